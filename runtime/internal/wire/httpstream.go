package wire

import "strconv"

// StreamingHTTPContentType is the content type of a streamed answer to an
// HTTP event (a Function URL in RESPONSE_STREAM mode, an API Gateway REST
// API integration in STREAM mode): AppendStreamingPrelude's prelude, then
// the body's raw bytes.
const StreamingHTTPContentType = "application/vnd.awslambda.http-integration-response"

// AppendStreamingPrelude writes the start of a streamed HTTP answer: a JSON
// object with the status code and the headers (repeated names joined with
// commas), then the eight zero bytes that end it. The body follows as it
// is, not base64.
func AppendStreamingPrelude(dst []byte, status int, h []Field) []byte {
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `,"headers":`...)
	dst = appendHeaders(dst, h, 3)
	dst = append(dst, '}')
	return append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
}
