// The page: calls the example OrderService from the browser with
// @connectrpc/connect-web, once per transport, and shows each call's outcome
// in a table. Every value it shows sits in an element with a data-key
// attribute, "<transport>.<call>.<field>", which drive.mjs reads and
// e2e/browser_test.go checks. When all calls are done, #results gets
// data-state="done" ("failed" if the page itself broke).
import { type Client as ClientOf, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { timestampDate } from "@bufbuild/protobuf/wkt";

import { OrderService, OrderStatus } from "./gen/orders/v1/orders_pb.js";
import { BadRequestSchema, ResourceInfoSchema } from "./gen/google/rpc/error_details_pb.js";

type Client = ClientOf<typeof OrderService>;

// What one call shows: field name → text.
type Fields = Record<string, string>;

// The headers and trailers a call received.
interface Meta {
  header?: Headers;
  trailer?: Headers;
}

// The function is served from the page's own origin, or from the origin in
// the page's "api" query parameter (a cross-origin call, which needs CORS).
const baseUrl = new URLSearchParams(location.search).get("api") ?? location.origin;

const transports: { name: string; label: string; transport: Transport }[] = [
  {
    name: "connect-binary",
    label: "Connect protocol, binary (application/proto)",
    transport: createConnectTransport({ baseUrl, useBinaryFormat: true }),
  },
  {
    name: "connect-json",
    label: "Connect protocol, JSON (application/json)",
    transport: createConnectTransport({ baseUrl, useBinaryFormat: false }),
  },
  {
    name: "connect-get",
    label: "Connect protocol, binary, GET for side-effect-free methods",
    transport: createConnectTransport({ baseUrl, useBinaryFormat: true, useHttpGet: true }),
  },
  {
    name: "connect-get-json",
    label: "Connect protocol, JSON, GET for side-effect-free methods",
    transport: createConnectTransport({ baseUrl, useBinaryFormat: false, useHttpGet: true }),
  },
  {
    name: "grpc-web",
    label: "gRPC-Web, binary (application/grpc-web+proto)",
    transport: createGrpcWebTransport({ baseUrl, useBinaryFormat: true }),
  },
  {
    name: "grpc-web-text",
    label: "gRPC-Web, text (application/grpc-web-text): connect-web's gRPC-Web through base64",
    transport: createGrpcWebTransport({ baseUrl, useBinaryFormat: true, fetch: grpcWebTextFetch }),
  },
];

// grpcWebTextFetch turns connect-web's binary gRPC-Web into the text mode of
// the grpc-web client (application/grpc-web-text, base64 bodies both ways) on
// the wire: the request's body is base64-encoded, and the response's decoded
// back to the binary frames connect-web reads. The response's own content
// type stays readable as x-wire-content-type.
async function grpcWebTextFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const headers = new Headers(init?.headers);
  headers.set("content-type", "application/grpc-web-text");
  headers.set("accept", "application/grpc-web-text");
  const body = init?.body instanceof Uint8Array ? base64Encode(init.body) : init?.body;
  const res = await fetch(input, { ...init, headers, body });
  const wireType = res.headers.get("content-type") ?? "";
  if (!wireType.startsWith("application/grpc-web-text")) {
    return res;
  }
  const out = new Headers(res.headers);
  out.set("content-type", "application/grpc-web+proto");
  out.set("x-wire-content-type", wireType);
  return new Response(base64Decode(await res.text()), { status: res.status, statusText: res.statusText, headers: out });
}

function base64Encode(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return btoa(s);
}

// base64Decode decodes a gRPC-Web text body: base64 chunks, each padded on
// its own, one after the other. Every 4 characters decode on their own.
function base64Decode(text: string): Uint8Array<ArrayBuffer> {
  const s = text.replace(/\s/g, "");
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 4) {
    for (const c of atob(s.slice(i, i + 4))) out.push(c.charCodeAt(0));
  }
  return new Uint8Array(out);
}

// The calls each transport makes: name → the call, which returns the fields
// to show on success. A call that fails shows its error (errorFields).
const calls: { name: string; label: string; run: (client: Client, meta: Meta) => Promise<Fields> }[] = [
  {
    name: "get",
    label: 'GetOrder("o-1001")',
    run: async (client, meta) => {
      const order = await client.getOrder({ id: "o-1001" }, options(meta));
      return {
        id: order.id,
        customer: order.customerId,
        totalCents: order.totalCents.toString(),
        status: OrderStatus[order.status],
        items: order.items.map((it) => `${it.quantity}x ${it.sku}`).join(", "),
        city: order.shippingAddress?.city ?? "",
        created: order.createTime ? timestampDate(order.createTime).toISOString() : "",
        contentType: meta.header?.get("x-wire-content-type") ?? meta.header?.get("content-type") ?? "",
      };
    },
  },
  {
    name: "notfound",
    label: 'GetOrder("o-404")',
    run: async (client, meta) => {
      const order = await client.getOrder({ id: "o-404" }, options(meta));
      return { id: order.id };
    },
  },
  {
    name: "unicode",
    label: 'GetOrder("ø-404 ✓")',
    run: async (client, meta) => {
      const order = await client.getOrder({ id: "ø-404 ✓" }, options(meta));
      return { id: order.id };
    },
  },
  {
    name: "whoami",
    label: "WhoAmI, authorization: Bearer demo-token",
    run: async (client, meta) => {
      const me = await client.whoAmI({}, { ...options(meta), headers: { authorization: "Bearer demo-token" } });
      return {
        subject: me.subject,
        scopes: me.scopes.join(" "),
        requestId: meta.header?.get("x-request-id") ?? "",
        elapsed: meta.trailer?.get("x-elapsed") ?? "",
      };
    },
  },
  {
    name: "unauthenticated",
    label: "WhoAmI, no authorization",
    run: async (client, meta) => {
      const me = await client.whoAmI({}, options(meta));
      return { subject: me.subject };
    },
  },
  {
    name: "invalid",
    label: "CreateOrder({})",
    run: async (client, meta) => {
      const order = await client.createOrder({}, options(meta));
      return { id: order.id };
    },
  },
  {
    name: "watch",
    label: 'WatchOrder("o-1001"), server streaming',
    run: async (client, meta) => {
      const events: string[] = [];
      for await (const ev of client.watchOrder({ id: "o-1001" }, options(meta))) {
        events.push(`${ev.orderId} ${OrderStatus[ev.status]}`);
      }
      return { events: events.join("; "), count: String(events.length) };
    },
  },
];

function options(meta: Meta) {
  return {
    timeoutMs: 10_000,
    onHeader: (h: Headers) => (meta.header = h),
    onTrailer: (t: Headers) => (meta.trailer = t),
  };
}

// errorFields shows a call's error: its code's name, message, the details'
// type names, and the ResourceInfo and BadRequest details decoded.
function errorFields(err: unknown): Fields {
  if (!(err instanceof ConnectError)) {
    return { error: String(err) };
  }
  const f: Fields = {
    code: Code[err.code],
    message: err.rawMessage,
    details: err.details.map((d) => ("type" in d ? d.type : d.desc.typeName)).join(", "),
  };
  for (const info of err.findDetails(ResourceInfoSchema)) {
    f.resourceType = info.resourceType;
    f.resourceName = info.resourceName;
    f.resourceDescription = info.description;
  }
  for (const bad of err.findDetails(BadRequestSchema)) {
    f.violations = bad.fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ");
  }
  return f;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attrs: Record<string, string> = {}) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

async function main() {
  const results = document.getElementById("results")!;
  for (const t of transports) {
    const client = createClient(OrderService, t.transport);
    const section = el("section", undefined, { id: t.name });
    section.append(el("h2", t.label));
    const table = el("table");
    section.append(table);
    results.append(section);
    for (const c of calls) {
      const meta: Meta = {};
      let fields: Fields;
      try {
        fields = await c.run(client, meta);
      } catch (err) {
        fields = errorFields(err);
      }
      Object.entries(fields).forEach(([field, value], i, all) => {
        const row = el("tr");
        if (i === 0) row.append(el("th", c.label, { rowspan: String(all.length) }));
        row.append(el("td", field), el("td", value, { "data-key": `${t.name}.${c.name}.${field}` }));
        table.append(row);
      });
    }
  }
}

const results = document.getElementById("results")!;
main().then(
  () => results.setAttribute("data-state", "done"),
  (err) => {
    results.append(el("pre", String(err?.stack ?? err), { id: "failure" }));
    results.setAttribute("data-state", "failed");
  },
);
