package wire

// The HTTP event reader as it was before jsonfast.go and the string arena
// (commit 6716bc1), kept as the model that TestParseHTTPEventMatchesModel
// and FuzzParseHTTPEvent compare ParseHTTPEvent with. One change: a
// requestContext.http.method of null is taken as absent, as null is
// everywhere else, where the old reader went on to skip the next token and
// refused the event.

// refEventScan collects what refParseHTTPEvent sees before it decides the shape.
type refEventScan struct {
	sawV, sawHTTPMethod, sawRawPath, sawCtxHTTP, sawELB bool
	version2                                            bool
	ctxMethod, httpMethod                               string
	single, multi                                       []Field
	hasMulti                                            bool
	query, multiQuery                                   []Field
	hasMultiQuery                                       bool
}

// refParseHTTPEvent decodes payload as an HTTP event. isEvent reports whether
// payload is one: a JSON object without the envelope's "v" that has
// "httpMethod", "rawPath" or a requestContext with "http" or "elb". When it
// is, err reports a syntax error after the point where that was clear; the
// caller answers it with an HTTP error.
func refParseHTTPEvent(payload []byte, ev *HTTPEvent) (isEvent bool, err error) {
	var sc refEventScan
	err = refScanEvent(payload, ev, &sc)
	isEvent = !sc.sawV && (sc.sawHTTPMethod || sc.sawRawPath || sc.sawCtxHTTP || sc.sawELB)
	if !isEvent {
		return false, err
	}
	switch {
	case sc.sawELB:
		ev.Shape = ShapeALB
		ev.QueryEncoded = true
		ev.MultiValue = sc.hasMulti || sc.hasMultiQuery
	case sc.version2 || sc.sawRawPath || sc.sawCtxHTTP:
		ev.Shape = ShapeV2
	default:
		ev.Shape = ShapeV1
	}
	if ev.Shape == ShapeV2 {
		ev.Method = sc.ctxMethod
		ev.Header = sc.single
		ev.Query = nil
	} else {
		ev.Method = sc.httpMethod
		// Where both forms are present (REST API), the multi-value one has
		// every value.
		ev.Header = sc.single
		if sc.hasMulti {
			ev.Header = sc.multi
		}
		ev.Query = sc.query
		if sc.hasMultiQuery {
			ev.Query = sc.multiQuery
		}
	}
	return true, err
}

func refScanEvent(payload []byte, ev *HTTPEvent, sc *refEventScan) error {
	r := &jsonReader{data: payload}
	if err := r.expect('{'); err != nil {
		return err
	}
	it := objectIter{r: r}
	for {
		key, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			return r.end()
		}
		if r.null() {
			if string(key) == "v" {
				sc.sawV = true
			}
			continue // null is the same as an absent field
		}
		switch string(key) {
		case "v":
			sc.sawV = true
			_, err = r.skip()
		case "version":
			var s []byte
			if s, err = r.str(); err == nil {
				sc.version2 = string(s) == "2.0"
			}
		case "rawPath":
			sc.sawRawPath = true
			ev.Path, err = readString(r)
		case "path":
			if !sc.sawRawPath {
				ev.Path, err = readString(r)
			} else {
				_, err = r.skip()
			}
		case "rawQueryString":
			ev.RawQuery, err = readString(r)
		case "httpMethod":
			sc.sawHTTPMethod = true
			sc.httpMethod, err = readString(r)
		case "headers":
			sc.single, err = readFields(r, sc.single[:0], true)
		case "multiValueHeaders":
			sc.hasMulti = true
			sc.multi, err = readMultiFields(r, sc.multi[:0], true)
		case "queryStringParameters":
			sc.query, err = readFields(r, sc.query[:0], false)
		case "multiValueQueryStringParameters":
			sc.hasMultiQuery = true
			sc.multiQuery, err = readMultiFields(r, sc.multiQuery[:0], false)
		case "cookies":
			ev.Cookies = ev.Cookies[:0]
			err = r.array(func() error {
				s, err := readString(r)
				ev.Cookies = append(ev.Cookies, s)
				return err
			})
		case "body":
			ev.Body, err = r.str()
		case "isBase64Encoded":
			ev.Base64, err = readBool(r)
		case "requestContext":
			err = refScanRequestContext(r, sc)
		default:
			_, err = r.skip()
		}
		if err != nil {
			return err
		}
	}
}

// refScanRequestContext reads what the shape and method need from
// "requestContext" and skips the rest.
func refScanRequestContext(r *jsonReader, sc *refEventScan) error {
	if r.peek() != '{' {
		_, err := r.skip()
		return err
	}
	return r.object(func(key []byte) error {
		switch string(key) {
		case "elb":
			if !r.null() {
				sc.sawELB = true
				_, err := r.skip()
				return err
			}
			return nil
		case "http":
			if r.null() {
				return nil
			}
			sc.sawCtxHTTP = true
			if r.peek() != '{' {
				_, err := r.skip()
				return err
			}
			return r.object(func(key []byte) error {
				if string(key) == "method" {
					if r.null() {
						return nil
					}
					var err error
					sc.ctxMethod, err = readString(r)
					return err
				}
				_, err := r.skip()
				return err
			})
		}
		_, err := r.skip()
		return err
	})
}
