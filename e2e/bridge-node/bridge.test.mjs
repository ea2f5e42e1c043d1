// A Node.js gRPC client (@grpc/grpc-js, HTTP/2) calls the example
// OrderService through lambda-grpc-bridge, which invokes the example
// function under the emulator. e2e/bridge_clients_test.go starts both and
// runs this with `node --test`, passing:
//   BRIDGE_ADDR  the bridge's host:port
//   DESCRIPTORS  a FileDescriptorSet file with orders.proto, google.rpc's
//                Status and error details, and their imports
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor/index.js';

const addr = process.env.BRIDGE_ADDR;
const descriptors = readFileSync(process.env.DESCRIPTORS);

// Field names as the .proto spells them, as protobufjs decodes the details.
const definition = protoLoader.loadFileDescriptorSetFromBuffer(descriptors, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
});
const { OrderService } = grpc.loadPackageDefinition(definition).example.orders.v1;
const client = new OrderService(addr, grpc.credentials.createInsecure());

// protobufjs types to decode grpc-status-details-bin.
const root = protobuf.Root.fromDescriptor(descriptors);
const Status = root.lookupType('google.rpc.Status');

// call makes a unary call and resolves with everything the caller sees.
function call(method, request, metadata = new grpc.Metadata(), options = {}) {
  return new Promise((resolve) => {
    const out = {};
    const c = client[method](request, metadata, options, (err, response) => {
      out.err = err;
      out.response = response;
    });
    c.on('metadata', (md) => { out.header = md; });
    c.on('status', (st) => {
      out.status = st;
      // The callback runs before the status event.
      setImmediate(() => resolve(out));
    });
  });
}

// details decodes the status details from the trailer.
function details(trailer) {
  const bin = trailer.get('grpc-status-details-bin');
  assert.equal(bin.length, 1, 'one grpc-status-details-bin trailer');
  const st = Status.decode(bin[0]);
  return st.details.map((any) => {
    const name = any.type_url.replace('type.googleapis.com/', '');
    return { name, code: st.code, message: st.message, value: root.lookupType(name).decode(any.value) };
  });
}

test('GetOrder returns the order', async () => {
  const { err, response, status } = await call('GetOrder', { id: 'o-1001' });
  assert.equal(err, null);
  assert.equal(status.code, grpc.status.OK);
  assert.equal(response.customer_id, 'c-42');
  assert.equal(response.total_cents, '6499');
  assert.equal(response.status, 'ORDER_STATUS_PENDING');
  assert.equal(response.items.length, 2);
  assert.equal(response.items[0].sku, 'BK-GO-101');
  assert.equal(response.create_time.seconds, String(Date.UTC(2026, 10, 1, 9, 30) / 1000));
});

test('an unknown order is NOT_FOUND with a ResourceInfo', async () => {
  const { err, response } = await call('GetOrder', { id: 'o-404' });
  assert.equal(response, undefined);
  assert.equal(err.code, grpc.status.NOT_FOUND);
  assert.equal(err.details, 'order "o-404" not found');
  const [d] = details(err.metadata);
  assert.equal(d.name, 'google.rpc.ResourceInfo');
  assert.equal(d.code, grpc.status.NOT_FOUND);
  assert.equal(d.value.resource_type, 'example.orders.v1.Order');
  assert.equal(d.value.resource_name, 'o-404');
  assert.equal(d.value.description, 'no order has this id');
});

test('an invalid order is INVALID_ARGUMENT with a BadRequest', async () => {
  const { err } = await call('CreateOrder', { customer_id: '', items: [{ sku: 'X', quantity: 0 }] });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(err.details, 'invalid order');
  const [d] = details(err.metadata);
  assert.equal(d.name, 'google.rpc.BadRequest');
  assert.deepEqual(d.value.field_violations.map((v) => v.field),
    ['customer_id', 'items[0].quantity', 'shipping_address.country_code']);
});

test('metadata crosses both ways', async () => {
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer demo-token');
  md.set('x-trace-bin', Buffer.from([0, 1, 2, 255])); // binary values travel too
  const { err, response, header, status } = await call('WhoAmI', {}, md);
  assert.equal(err, null);
  assert.equal(response.subject, 'user:ada');
  assert.deepEqual(response.scopes, ['orders:read']);
  assert.match(String(header.get('x-request-id')[0]), /^req-[0-9]+$/);
  assert.match(String(status.metadata.get('x-elapsed')[0]), /^[0-9]+us$/);
});

test('a missing token is UNAUTHENTICATED, with the header still sent', async () => {
  const { err, header } = await call('WhoAmI', {});
  assert.equal(err.code, grpc.status.UNAUTHENTICATED);
  assert.equal(err.details, 'missing "authorization" metadata');
  assert.match(String(header.get('x-request-id')[0]), /^req-[0-9]+$/);
  assert.match(String(err.metadata.get('x-elapsed')[0]), /^[0-9]+us$/);
});

test('the deadline reaches the function', async () => {
  // Twenty 100 ms steps against a 300 ms deadline: the function stops.
  const { err } = await call('ShipOrder', { id: 'o-1001', steps: 20 }, new grpc.Metadata(), { deadline: Date.now() + 300 });
  // The bridge is a grpc-go server, which resets the stream (RST_STREAM
  // CANCEL) when the deadline it was sent passes: when that arrives before the
  // client's own timer fires, grpc-js reports CANCELLED, as in front of any
  // grpc-go server.
  assert.ok([grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED].includes(err.code), `code ${err.code}`);
});

test('a server-streaming method streams the order\'s events', async () => {
  const stream = client.WatchOrder({ id: 'o-1001' });
  const events = await new Promise((resolve, reject) => {
    const got = [];
    stream.on('data', (ev) => got.push(ev));
    stream.on('error', reject);
    stream.on('end', () => resolve(got));
  });
  assert.ok(events.length >= 1, 'no events');
  assert.equal(events[0].orderId ?? events[0].order_id, 'o-1001');
  assert.equal(events[0].status, 'ORDER_STATUS_PENDING');
});

test('a server-streaming call for an unknown order fails with its details', async () => {
  const stream = client.WatchOrder({ id: 'o-404' });
  const err = await new Promise((resolve) => {
    stream.on('data', () => resolve(new Error('got a message')));
    stream.on('error', resolve);
  });
  assert.equal(err.code, grpc.status.NOT_FOUND);
  assert.match(err.details, /o-404/);
});
