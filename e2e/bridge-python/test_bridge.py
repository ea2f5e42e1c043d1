"""A Python gRPC client (grpcio, HTTP/2) calls the example OrderService
through lambda-grpc-bridge, which invokes the example function under the
emulator. e2e/bridge_clients_test.go starts both and runs this with Debian's
python3 (python3-grpcio, python3-protobuf): python3 -m unittest -v, passing

  BRIDGE_ADDR  the bridge's host:port
  DESCRIPTORS  a FileDescriptorSet file with orders.proto, google.rpc's
               Status and error details, and their imports

The messages are built from those descriptors at run time, as a client
without generated code would; grpcio's generic unary calls carry them.
"""

import os
import re
import unittest

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

ADDR = os.environ["BRIDGE_ADDR"]
SERVICE = "/example.orders.v1.OrderService/"

_pool = descriptor_pool.DescriptorPool()
with open(os.environ["DESCRIPTORS"], "rb") as f:
    for fd in descriptor_pb2.FileDescriptorSet.FromString(f.read()).file:
        _pool.Add(fd)
_factory = message_factory.MessageFactory(_pool)


def message(name):
    """The message class of a full name, from the descriptors."""
    return _factory.GetPrototype(_pool.FindMessageTypeByName(name))


Status = message("google.rpc.Status")


def details(trailer):
    """The decoded details of a status carried in a call's trailer."""
    bins = [v for k, v in trailer if k == "grpc-status-details-bin"]
    assert len(bins) == 1, bins
    st = Status.FromString(bins[0])
    out = []
    for any_ in st.details:
        name = any_.type_url.split("/")[-1]
        out.append((name, message(name).FromString(any_.value)))
    return st, out


class BridgeTest(unittest.TestCase):
    def setUp(self):
        self.channel = grpc.insecure_channel(ADDR)

    def tearDown(self):
        self.channel.close()

    def call(self, method, request, response_type, **kwargs):
        """A unary call; returns (response, call) or raises grpc.RpcError."""
        rpc = self.channel.unary_unary(
            SERVICE + method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=message(response_type).FromString,
        )
        return rpc.with_call(request, **kwargs)

    def test_get_order(self):
        req = message("example.orders.v1.GetOrderRequest")(id="o-1001")
        order, call = self.call("GetOrder", req, "example.orders.v1.Order")
        self.assertEqual(call.code(), grpc.StatusCode.OK)
        self.assertEqual(order.customer_id, "c-42")
        self.assertEqual(order.total_cents, 6499)
        self.assertEqual([i.sku for i in order.items], ["BK-GO-101", "MUG-GOPHER"])
        self.assertEqual(order.create_time.seconds, 1793525400)

    def test_not_found_with_resource_info(self):
        req = message("example.orders.v1.GetOrderRequest")(id="o-404")
        with self.assertRaises(grpc.RpcError) as cm:
            self.call("GetOrder", req, "example.orders.v1.Order")
        err = cm.exception
        self.assertEqual(err.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(err.details(), 'order "o-404" not found')
        st, ds = details(err.trailing_metadata())
        self.assertEqual(st.code, grpc.StatusCode.NOT_FOUND.value[0])
        self.assertEqual(len(ds), 1)
        name, info = ds[0]
        self.assertEqual(name, "google.rpc.ResourceInfo")
        self.assertEqual(info.resource_type, "example.orders.v1.Order")
        self.assertEqual(info.resource_name, "o-404")

    def test_invalid_argument_with_bad_request(self):
        req = message("example.orders.v1.CreateOrderRequest")(customer_id="c-1")
        with self.assertRaises(grpc.RpcError) as cm:
            self.call("CreateOrder", req, "example.orders.v1.Order")
        err = cm.exception
        self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(err.details(), "invalid order")
        _, ds = details(err.trailing_metadata())
        name, bad = ds[0]
        self.assertEqual(name, "google.rpc.BadRequest")
        self.assertEqual([v.field for v in bad.field_violations], ["items", "shipping_address.country_code"])

    def test_metadata_both_ways(self):
        req = message("example.orders.v1.WhoAmIRequest")()
        resp, call = self.call(
            "WhoAmI", req, "example.orders.v1.WhoAmIResponse",
            metadata=(("authorization", "Bearer admin-token"), ("x-trace-bin", b"\x00\x01\xff")),
        )
        self.assertEqual(resp.subject, "user:grace")
        self.assertEqual(list(resp.scopes), ["orders:read", "orders:write"])
        header = dict(call.initial_metadata())
        trailer = dict(call.trailing_metadata())
        self.assertRegex(header["x-request-id"], r"^req-[0-9]+$")
        self.assertRegex(trailer["x-elapsed"], r"^[0-9]+us$")

    def test_unauthenticated(self):
        req = message("example.orders.v1.WhoAmIRequest")()
        with self.assertRaises(grpc.RpcError) as cm:
            self.call("WhoAmI", req, "example.orders.v1.WhoAmIResponse",
                      metadata=(("authorization", "Bearer wrong"),))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(cm.exception.details(), "invalid bearer token")

    def test_deadline(self):
        # Twenty 100 ms steps against a 0.3 s deadline: the function stops.
        req = message("example.orders.v1.ShipOrderRequest")(id="o-1001", steps=20)
        with self.assertRaises(grpc.RpcError) as cm:
            self.call("ShipOrder", req, "example.orders.v1.Order", timeout=0.3)
        # The bridge is a grpc-go server, which resets the stream (RST_STREAM
        # CANCEL) when the deadline it was sent passes: when that reaches the
        # client before its own timer fires, grpcio reports CANCELLED, as it
        # would in front of any grpc-go server.
        self.assertIn(cm.exception.code(), (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED))

    def test_streaming(self):
        rpc = self.channel.unary_stream(
            SERVICE + "WatchOrder",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=message("example.orders.v1.OrderEvent").FromString,
        )
        events = list(rpc(message("example.orders.v1.WatchOrderRequest")(id="o-1001")))
        self.assertGreaterEqual(len(events), 1)
        self.assertEqual(events[0].order_id, "o-1001")
        self.assertEqual(events[0].status, 1)  # ORDER_STATUS_PENDING
        with self.assertRaises(grpc.RpcError) as cm:
            list(rpc(message("example.orders.v1.WatchOrderRequest")(id="o-404")))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

if __name__ == "__main__":
    unittest.main()
