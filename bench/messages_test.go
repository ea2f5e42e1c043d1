package bench

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// A size is one of the benchmark's message sizes. Its messages are built
// deterministically, so every run and every path sends the same bytes.
type size struct {
	name string
	// target is the intended serialized protobuf size of the request.
	target int
	// items is the number of line items in the order.
	items int
	// full adds addresses, tags, a note and per-item details; the small
	// message leaves them out to stay near its target.
	full bool
}

// sizes lists the benchmark's sizes, smallest first.
var sizes = []size{
	{name: "small", target: 100, items: 1},
	{name: "medium", target: 10 << 10, items: 93, full: true},
	{name: "large", target: 1 << 20, items: 9900, full: true},
}

// Word lists from which item names and categories are composed.
var (
	adjectives = []string{"Walnut", "Brushed steel", "Recycled", "Compact", "Ergonomic", "Vintage", "Waterproof", "Modular", "Handmade", "Wireless", "Foldable"}
	products   = []string{"desk organiser", "reading lamp", "espresso cup", "notebook", "backpack", "phone stand", "kettle", "cutting board", "bike light", "picture frame", "plant pot", "headphones", "doormat"}
	categories = []string{"home", "office", "kitchen", "outdoor", "electronics", "gifts", "garden", "sale", "new-arrivals", "eco"}
	tags       = []string{"priority", "first-order", "newsletter-signup", "b2b", "loyalty-gold", "mobile-app"}
)

// baseTime is the creation time of every order.
var baseTime = time.Date(2025, 11, 26, 6, 13, 0, 0, time.UTC)

// newRequest builds the request of size s.
func newRequest(s size) *benchv1.EchoRequest {
	order := &benchv1.Order{
		Id:         "ord-2025-000184467",
		CustomerId: "cus-00093121",
		Status:     benchv1.OrderStatus_ORDER_STATUS_PAID,
		CreatedAt:  timestamppb.New(baseTime),
		Currency:   "EUR",
	}
	if s.full {
		order.ShippingAddress = newAddress("Maria Jansen", "Keizersgracht 123", "Amsterdam")
		order.BillingAddress = newAddress("Jansen Design B.V.", "Herengracht 500", "Amsterdam")
		order.Tags = tags
		order.Gift = true
		order.Note = "Please leave the parcel with the neighbours at number 125 if nobody is home."
	}
	for i := range s.items {
		item := newLineItem(i, s.full)
		order.Items = append(order.Items, item)
		order.TotalCents += int64(item.Quantity) * item.UnitPriceCents
	}
	return &benchv1.EchoRequest{RequestId: "req-" + s.name, Order: order}
}

// wantResponse is the response the service must return for req.
func wantResponse(req *benchv1.EchoRequest) *benchv1.EchoResponse {
	return &benchv1.EchoResponse{RequestId: req.GetRequestId(), Order: req.GetOrder()}
}

// newAddress builds a Dutch postal address.
func newAddress(name, line1, city string) *benchv1.Address {
	return &benchv1.Address{
		Name:        name,
		Line1:       line1,
		Line2:       "3rd floor",
		City:        city,
		Region:      "Noord-Holland",
		PostalCode:  "1015 CJ",
		CountryCode: "NL",
	}
}

// newLineItem builds the i-th line item; full adds categories and
// dimensions.
func newLineItem(i int, full bool) *benchv1.LineItem {
	item := &benchv1.LineItem{
		Sku:            fmt.Sprintf("SKU-%07d", 1000003*i%9999991),
		Name:           adjectives[i%len(adjectives)] + " " + products[i%len(products)],
		Quantity:       int32(1 + i%4),
		UnitPriceCents: int64(499 + 37*(i%200)),
		Taxable:        i%5 != 0,
	}
	if full {
		item.DiscountRate = float64(i%7) * 0.025
		item.Categories = []string{categories[i%len(categories)], categories[(i/3)%len(categories)]}
		item.Dimensions = &benchv1.Dimensions{
			WeightKg: 0.125 + float64(i%40)*0.05,
			LengthCm: 10.5 + float64(i%30),
			WidthCm:  5.25 + float64(i%20),
			HeightCm: 2.75 + float64(i%10),
		}
	}
	return item
}
