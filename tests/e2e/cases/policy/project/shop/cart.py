import vendor_lib


class Cart:
    def __init__(self):
        self.lines = []

    def add(self, product, qty):
        self.lines.append((product, qty))

    def total(self):
        amount = 0.0
        for product, qty in self.lines:
            amount += product.price_with_tax() * qty
        # vendor_lib (not traced) calls back into shop (traced)
        return vendor_lib.round_money(amount, apply_discount)


def apply_discount(amount):
    return amount * 0.9
