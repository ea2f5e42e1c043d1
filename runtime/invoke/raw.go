package invoke

import (
	"fmt"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoiface"
	"google.golang.org/protobuf/types/known/emptypb"
)

// RawMessage is a message carried as its serialized protobuf bytes, never
// parsed: the request and response of a call whose message types the caller
// does not link in, such as a proxy's (cmd/lambda-grpc-bridge forwards every
// call this way). Pass *RawMessage values as ClientConn.Invoke's args and
// reply: the request's Bytes are sent as they are, and the reply's Bytes are
// the function's response message as it wrote it.
//
//	in, out := &invoke.RawMessage{Bytes: req}, &invoke.RawMessage{}
//	err := cc.Invoke(ctx, "/example.orders.v1.OrderService/GetOrder", in, out)
//
// A *RawMessage is a proto.Message, so grpc-go's proto codec carries it the
// same way (a grpc.ServerStream's RecvMsg fills it with the bytes a client
// sent). Protobuf sees it as a message that declares no fields and holds all
// of its bytes as unknown fields; its descriptor is google.protobuf.Empty's.
// Binary marshalling, unmarshalling, merging (which appends, as merging two
// serialized messages does) and cloning keep the bytes exactly. JSON mode
// (WithJSON) cannot carry it: protojson writes no unknown fields, so use
// binary mode, the default (in JSON mode the message would travel as {}).
type RawMessage struct {
	// Bytes is the message in protobuf wire format. Unmarshalling into a
	// RawMessage copies the input; it never aliases it.
	Bytes []byte
	// Pool, when set, is where unmarshalling (and ClientConn.Invoke's
	// decoding of a reply) takes the buffer for Bytes: Bytes is then a prefix
	// of a buffer from Pool.Get, which a proxy returns once it has passed
	// the message on, with Pool.Put(&m.Bytes), or hands to grpc-go with
	// mem.NewBuffer(&m.Bytes, m.Pool), which returns it once written. Nil:
	// Bytes is a slice of its own. Reset keeps Pool.
	Pool mem.BufferPool
}

var _ proto.Message = (*RawMessage)(nil)

// ProtoReflect implements proto.Message.
func (m *RawMessage) ProtoReflect() protoreflect.Message { return (*rawReflect)(m) }

// Reset empties the message, as proto.Reset does (Pool is kept).
func (m *RawMessage) Reset() { m.Bytes = nil }

// rawDescriptor is the descriptor of a message with no fields.
var rawDescriptor = (&emptypb.Empty{}).ProtoReflect().Descriptor()

// rawMethods are the fast paths through which proto.Marshal, proto.Size,
// proto.Unmarshal, proto.Merge and proto.CheckInitialized use the bytes
// without reflection. They are complete: every flag is supported, so
// protobuf never falls back to its reflective path.
var rawMethods = &protoiface.Methods{
	Flags: protoiface.SupportMarshalDeterministic | protoiface.SupportUnmarshalDiscardUnknown,
	Size: func(in protoiface.SizeInput) protoiface.SizeOutput {
		return protoiface.SizeOutput{Size: len(rawOf(in.Message).Bytes)}
	},
	Marshal: func(in protoiface.MarshalInput) (protoiface.MarshalOutput, error) {
		return protoiface.MarshalOutput{Buf: append(in.Buf, rawOf(in.Message).Bytes...)}, nil
	},
	Unmarshal: func(in protoiface.UnmarshalInput) (protoiface.UnmarshalOutput, error) {
		m := rawOf(in.Message)
		if in.Flags&protoiface.UnmarshalDiscardUnknown == 0 {
			// Unmarshal merges into a message already reset: appending is
			// protobuf's merge of serialized messages. The input belongs to
			// the caller (often a pooled buffer), so it is copied.
			if m.Bytes == nil && m.Pool != nil && len(in.Buf) > 0 {
				m.Bytes = (*m.Pool.Get(len(in.Buf)))[:0]
			}
			m.Bytes = append(m.Bytes, in.Buf...)
		}
		return protoiface.UnmarshalOutput{Flags: protoiface.UnmarshalInitialized}, nil
	},
	Merge: func(in protoiface.MergeInput) protoiface.MergeOutput {
		src, ok := in.Source.(*rawReflect)
		if !ok {
			return protoiface.MergeOutput{}
		}
		dst := rawOf(in.Destination)
		dst.Bytes = append(dst.Bytes, src.Bytes...)
		return protoiface.MergeOutput{Flags: protoiface.MergeComplete}
	},
	CheckInitialized: func(protoiface.CheckInitializedInput) (protoiface.CheckInitializedOutput, error) {
		return protoiface.CheckInitializedOutput{}, nil
	},
}

func rawOf(m protoreflect.Message) *RawMessage { return (*RawMessage)(m.(*rawReflect)) }

// rawReflect is a RawMessage's protoreflect.Message view: a message with no
// fields whose bytes are all unknown fields.
type rawReflect RawMessage

var _ protoreflect.Message = (*rawReflect)(nil)

func (m *rawReflect) Descriptor() protoreflect.MessageDescriptor { return rawDescriptor }
func (m *rawReflect) Type() protoreflect.MessageType             { return rawType{} }
func (m *rawReflect) New() protoreflect.Message                  { return new(rawReflect) }
func (m *rawReflect) Interface() protoreflect.ProtoMessage       { return (*RawMessage)(m) }
func (m *rawReflect) Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
}
func (m *rawReflect) Has(fd protoreflect.FieldDescriptor) bool { panic(noField(fd)) }
func (m *rawReflect) Clear(fd protoreflect.FieldDescriptor)    { panic(noField(fd)) }
func (m *rawReflect) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	panic(noField(fd))
}
func (m *rawReflect) Set(fd protoreflect.FieldDescriptor, _ protoreflect.Value) { panic(noField(fd)) }
func (m *rawReflect) Mutable(fd protoreflect.FieldDescriptor) protoreflect.Value {
	panic(noField(fd))
}
func (m *rawReflect) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	panic(noField(fd))
}
func (m *rawReflect) WhichOneof(od protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	panic(fmt.Sprintf("invoke.RawMessage has no oneof %s", od.FullName()))
}
func (m *rawReflect) GetUnknown() protoreflect.RawFields {
	if m == nil {
		return nil
	}
	return m.Bytes
}
func (m *rawReflect) SetUnknown(b protoreflect.RawFields) { m.Bytes = b }
func (m *rawReflect) IsValid() bool                       { return m != nil }
func (m *rawReflect) ProtoMethods() *protoiface.Methods   { return rawMethods }

// noField is the panic of a field access: as with a generated message, naming
// a field the message does not declare is a programming error.
func noField(fd protoreflect.FieldDescriptor) string {
	return fmt.Sprintf("invoke.RawMessage has no field %s: it declares none", fd.FullName())
}

// rawType is RawMessage's protoreflect.MessageType.
type rawType struct{}

func (rawType) New() protoreflect.Message                  { return new(rawReflect) }
func (rawType) Zero() protoreflect.Message                 { return (*rawReflect)(nil) }
func (rawType) Descriptor() protoreflect.MessageDescriptor { return rawDescriptor }
