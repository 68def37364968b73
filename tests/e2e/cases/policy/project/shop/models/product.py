def _tax_rate():
    return 0.2


class Product:
    def __init__(self, name, price):
        self.name = name
        self.price = price

    def price_with_tax(self):
        return self.price * (1 + _tax_rate())
