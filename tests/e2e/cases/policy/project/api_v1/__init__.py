def _reply(msg):
    return "v1 " + msg


def handle(msg):
    return _reply(msg)
