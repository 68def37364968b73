def _reply(msg):
    return "v2 " + msg


def handle(msg):
    return _reply(msg)
