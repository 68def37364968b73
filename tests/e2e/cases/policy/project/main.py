"""A project of several packages; glimpse-policy.json says which of them glass traces."""

import api_v1
import api_v2
import vendor_lib
from shop import chain
from shop.cart import Cart
from shop.models.product import Product
from shop.tests.test_cart import check_cart


def main():
    cart = Cart()
    cart.add(Product("pen", 2.5), 4)
    cart.add(Product("book", 12.0), 1)
    print("total", cart.total())
    print(api_v1.handle("ping"))
    print(api_v2.handle("ping"))
    print(vendor_lib.render(cart.total()))
    print("check", check_cart())
    print("chain", chain.level1(3))


main()
