"""A realistic day of two small shops' orders, as stories told relative to the moment the demo began.

Every kind of incident Redress opens is here once or more, in Spanish and English, beside orders that go
well; twelve Correos parcels to Pontevedra going silent at once are the day's crisis. Times are days before
the demo's anchor (when its shops were first connected), so a replay sends the very same deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from plugin.vocabulary import Kind, Platform, Responsibility

K, R = Kind, Responsibility
SHOPIFY_DOMAIN = "redress-demo.myshopify.com"
SHOPIFY_NAME = "Cerámica Lumbre"
WOOCOMMERCE_NAME = "Té y Cuenco"
# Both demo shops are "owned" by this address: it is how the demo (and the front page) knows its own shops.
DEMO_OWNER = "demo@redress.example"
TIMEZONE = "Europe/Madrid"
CURRENCY = "EUR"


@dataclass(frozen=True)
class Item:
    sku: str
    title: str
    price: Decimal
    quantity: int = 1


@dataclass(frozen=True)
class Parcel:
    """What the carrier knows: `status` in Redress's words, `news` the days since its latest scan."""

    carrier: str
    number: str
    made: float  # label made (and, unless `status` is a label's, handed over) this many days ago
    status: str
    news: float


@dataclass(frozen=True)
class Story:
    platform: Platform
    number: int
    customer: str
    email: str
    language: str
    country: str
    region: str
    city: str
    items: tuple[Item, ...]
    shipping: Decimal
    placed: float  # days before the anchor
    parcel: Parcel | None = None
    payment: str = "paid"  # "paid", "declined", or "unpaid" (never paid: an abandoned checkout)
    cancelled: str | None = None  # "customer" or "inventory"
    expect: tuple[Kind, Responsibility] | None = None  # the incident Redress should open, if any

    @property
    def total(self) -> Decimal:
        return sum((i.price * i.quantity for i in self.items), self.shipping)

    @property
    def first_name(self) -> str:
        return self.customer.split(" ", 1)[0]

    @property
    def last_name(self) -> str:
        return self.customer.split(" ", 1)[1]


MUG = Item("TAZA-AZUL", "Taza de cerámica azul", Decimal("18.00"))
TEAPOT = Item("TETERA-HIERRO", "Tetera de hierro fundido", Decimal("42.00"))
BOWLS = Item("CUENCOS-4", "Juego de 4 cuencos", Decimal("36.00"))
PLATE = Item("PLATO-LLANO", "Plato llano esmaltado", Decimal("12.50"))
TEA = Item("TE-VERDE-100", "Té verde sencha, 100 g", Decimal("9.90"))
MATCHA = Item("MATCHA-30", "Matcha ceremonial, 30 g", Decimal("24.00"))
SHIP_ES, SHIP_GB = Decimal("4.95"), Decimal("9.90")

_PONTEVEDRA = ["Iria Otero", "Xoán Castro", "Antía Lorenzo", "Brais Fernández", "Uxía Pazos", "Martiño Rial",
               "Noa Varela", "Anxo Souto", "Sabela Piñeiro", "Iago Barreiro", "Carme Lago", "Roi Comesaña"]


def _es(platform: Platform, number: int, name: str, region: str, city: str, items: tuple[Item, ...],
        placed: float, **kw) -> Story:
    email = _address(name)
    return Story(platform, number, name, email, "es", "ES", region, city, items, SHIP_ES, placed, **kw)


def _en(platform: Platform, number: int, name: str, items: tuple[Item, ...], placed: float, **kw) -> Story:
    return Story(platform, number, name, _address(name), "en", "GB", "LND", "London", items, SHIP_GB, placed, **kw)


def _address(name: str) -> str:
    plain = name.lower().translate(str.maketrans("áéíóúñüç", "aeiounuc")).replace(" ", ".")
    return f"{plain}@example.com"


def _shopify() -> list[Story]:
    S = Platform.SHOPIFY
    on_time = [
        _es(S, 1001, "Lucía Fernández", "M", "Madrid", (MUG, PLATE), 1.0),
        _es(S, 1002, "Javier Moreno", "B", "Barcelona", (TEAPOT,), 4.0,
            parcel=Parcel("SEUR", "SEUR0418832", 3.0, "delivered", 1.0)),
        _es(S, 1003, "Carmen Ruiz", "SE", "Sevilla", (BOWLS,), 3.0,
            parcel=Parcel("Correos", "PQ4F7A0012345", 2.0, "in_transit", 0.5)),
        _en(S, 1004, "Emma Clarke", (MUG, MUG), 2.0, parcel=Parcel("DHL", "JD014600006542", 1.5, "in_transit", 0.4)),
        _es(S, 1005, "Pablo Navarro", "V", "Valencia", (PLATE, PLATE), 6.0,
            parcel=Parcel("MRW", "MRW0098127", 5.0, "delivered", 2.0)),
        _es(S, 1006, "Marta Gil", "Z", "Zaragoza", (TEAPOT, MUG), 0.2),
        _en(S, 1007, "Oliver Bennett", (BOWLS,), 0.1),
        _es(S, 1008, "Sergio Castro", "MA", "Málaga", (MUG,), 0.05),
    ]
    wrong = [
        _es(S, 1010, "Elena Ortega", "M", "Madrid", (TEAPOT,), 4.0, expect=(K.FULFILLMENT_LATE, R.SHOP)),
        _en(S, 1011, "Grace Hughes", (BOWLS, PLATE), 5.0, expect=(K.FULFILLMENT_LATE, R.SHOP)),
        _es(S, 1012, "Diego Romero", "B", "Barcelona", (MUG, BOWLS), 5.0,
            parcel=Parcel("SEUR", "SEUR0419977", 4.0, "label_printed", 4.0), expect=(K.PICKUP_LATE, R.SHOP)),
        _es(S, 1013, "Nuria Vidal", "VA", "Valladolid", (PLATE,), 5.0,
            parcel=Parcel("GLS", "GLS77120034", 4.8, "in_transit", 4.0), expect=(K.TRANSIT_STALLED, R.CARRIER)),
        _en(S, 1014, "Thomas Reid", (TEAPOT,), 12.0,
            parcel=Parcel("DHL", "JD014600007719", 11.0, "in_transit", 1.0), expect=(K.DELIVERY_LATE, R.CARRIER)),
        _es(S, 1015, "Andrés Molina", "GR", "Granada", (BOWLS,), 8.0,
            parcel=Parcel("MRW", "MRW0099410", 7.0, "failure", 3.5), expect=(K.DELIVERY_FAILED, R.CARRIER)),
        _es(S, 1016, "Laura Serrano", "A", "Alicante", (MUG, PLATE), 5.0,
            parcel=Parcel("Correos", "PQ4F7A0019876", 4.0, "attempted_delivery", 1.0),
            expect=(K.DELIVERY_FAILED, R.CUSTOMER)),
        _es(S, 1017, "Iván Delgado", "O", "Oviedo", (TEAPOT, BOWLS), 22.0,
            parcel=Parcel("GLS", "GLS77118120", 21.0, "in_transit", 17.0), expect=(K.LOST, R.CARRIER)),
        _es(S, 1018, "Rocío Herrera", "CA", "Cádiz", (MATCHA,), 0.5, payment="declined",
            expect=(K.PAYMENT_FAILED, R.PAYMENT)),
        _en(S, 1019, "Sophie Turner", (PLATE,), 1.0, cancelled="customer", expect=(K.ORDER_CANCELLED, R.CUSTOMER)),
        _es(S, 1020, "Raúl Iglesias", "BI", "Bilbao", (TEAPOT,), 1.5, cancelled="inventory",
            expect=(K.ORDER_CANCELLED, R.SHOP)),
    ]
    crisis = [_es(S, 1030 + i, name, "PO", "Vigo" if i % 2 else "Pontevedra", (MUG, TEA) if i % 3 else (BOWLS,),
                  5.0 - i * 0.05, parcel=Parcel("Correos", f"PQ4F7B00{2200 + i}", 4.5 - i * 0.05, "in_transit",
                                                 4.2 - i * 0.05),
                  expect=(K.TRANSIT_STALLED, R.CARRIER))
              for i, name in enumerate(_PONTEVEDRA)]
    return on_time + wrong + crisis


def _woocommerce() -> list[Story]:
    W = Platform.WOOCOMMERCE
    return [
        _es(W, 2001, "Alba Cano", "M", "Madrid", (TEA, MATCHA), 1.0),
        _es(W, 2002, "Hugo Prieto", "B", "Barcelona", (TEA,), 4.0,
            parcel=Parcel("Correos", "PQ4F7C0030011", 3.0, "delivered", 1.0)),
        _en(W, 2003, "Chloe Price", (MATCHA,), 3.0, parcel=Parcel("Royal Mail", "RM123456785GB", 2.0, "in_transit",
                                                                  0.6)),
        _es(W, 2004, "Sara Méndez", "S", "Santander", (TEA, TEA), 0.3),
        _es(W, 2005, "Óscar Lozano", "MU", "Murcia", (MATCHA, TEA), 2.0,
            parcel=Parcel("SEUR", "SEUR0420051", 1.0, "in_transit", 0.5)),
        _en(W, 2006, "Daniel Walsh", (TEA,), 0.1),
        _es(W, 2010, "Irene Pascual", "CS", "Castellón", (MATCHA,), 4.0, expect=(K.FULFILLMENT_LATE, R.SHOP)),
        _es(W, 2011, "Adrián Vega", "TO", "Toledo", (TEA, MATCHA), 5.0,
            parcel=Parcel("MRW", "MRW0100233", 4.0, "label_created", 4.0), expect=(K.PICKUP_LATE, R.SHOP)),
        _en(W, 2012, "James Porter", (MATCHA, TEA), 5.5,
            parcel=Parcel("Royal Mail", "RM123456799GB", 4.8, "in_transit", 4.0),
            expect=(K.TRANSIT_STALLED, R.CARRIER)),
        _es(W, 2013, "Paula Soler", "PM", "Palma", (TEA,), 9.0,
            parcel=Parcel("SEUR", "SEUR0420388", 8.0, "failure", 3.5), expect=(K.DELIVERY_FAILED, R.CARRIER)),
        _es(W, 2014, "Marcos Rubio", "NA", "Pamplona", (MATCHA,), 0.4, payment="declined",
            expect=(K.PAYMENT_FAILED, R.PAYMENT)),
        _es(W, 2015, "Clara Benítez", "HU", "Huelva", (TEA,), 1.0, cancelled="customer", payment="unpaid",
            expect=(K.ORDER_CANCELLED, R.CUSTOMER)),
        _es(W, 2016, "Jorge Marín", "LE", "León", (TEA, MATCHA), 10.0,
            parcel=Parcel("Correos", "PQ4F7C0031207", 9.0, "returned_to_sender", 2.0),
            expect=(K.RETURNED_TO_SENDER, R.CARRIER)),
    ]


def stories() -> list[Story]:
    return _shopify() + _woocommerce()


def expected_kinds() -> set[Kind]:
    return {s.expect[0] for s in stories() if s.expect}
