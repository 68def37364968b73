"""An exception raised three levels deep and caught at level 1."""


class ValidationError(Exception):
    pass


def level3(value):
    raise ValidationError("bad value %d" % value)


def level2(value):
    return level3(value) + 1


def level1(value):
    try:
        return level2(value)
    except ValidationError as e:
        return "caught: %s" % e


def handles_own():
    try:
        {}["missing"]
    except KeyError:
        return "handled"


def main():
    print(level1(42))
    print(handles_own())


main()
