/** demo.proto messages as @grpc/proto-loader delivers them (keepCase, longs as Number, defaults on). */

export interface Money {
  currency_code: string;
  units: number;
  nanos: number;
}
export interface CartItem {
  product_id: string;
  quantity: number;
}
export interface Cart {
  user_id: string;
  items: CartItem[];
}
export interface Product {
  id: string;
  name: string;
  description: string;
  picture: string;
  price_usd: Money | null;
  categories: string[];
}
export interface Address {
  street_address: string;
  city: string;
  state: string;
  country: string;
  zip_code: number;
}
export interface CreditCardInfo {
  credit_card_number: string;
  credit_card_cvv: number;
  credit_card_expiration_year: number;
  credit_card_expiration_month: number;
}
export interface OrderItem {
  item: CartItem | null;
  cost: Money | null;
}
export interface OrderResult {
  order_id: string;
  shipping_tracking_id: string;
  shipping_cost: Money | null;
  shipping_address: Address | null;
  items: OrderItem[];
}
export interface Ad {
  redirect_url: string;
  text: string;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type Empty = {};

/** Request/response pairs per method: the typed surface of the gRPC clients and servers. */
export interface Methods {
  CartService: {
    AddItem: [{ user_id: string; item: CartItem | null }, Empty];
    GetCart: [{ user_id: string }, Cart];
    EmptyCart: [{ user_id: string }, Empty];
  };
  RecommendationService: {
    ListRecommendations: [{ user_id: string; product_ids: string[] }, { product_ids: string[] }];
  };
  ProductCatalogService: {
    ListProducts: [Empty, { products: Product[] }];
    GetProduct: [{ id: string }, Product];
    SearchProducts: [{ query: string }, { results: Product[] }];
  };
  ShippingService: {
    GetQuote: [{ address: Address | null; items: CartItem[] }, { cost_usd: Money | null }];
    ShipOrder: [{ address: Address | null; items: CartItem[] }, { tracking_id: string }];
  };
  CurrencyService: {
    GetSupportedCurrencies: [Empty, { currency_codes: string[] }];
    Convert: [{ from: Money | null; to_code: string }, Money];
  };
  PaymentService: {
    Charge: [{ amount: Money | null; credit_card: CreditCardInfo | null }, { transaction_id: string }];
  };
  EmailService: {
    SendOrderConfirmation: [{ email: string; order: OrderResult | null }, Empty];
  };
  CheckoutService: {
    PlaceOrder: [
      {
        user_id: string;
        user_currency: string;
        address: Address | null;
        email: string;
        credit_card: CreditCardInfo | null;
      },
      { order: OrderResult | null },
    ];
  };
  AdService: {
    GetAds: [{ context_keys: string[] }, { ads: Ad[] }];
  };
}
