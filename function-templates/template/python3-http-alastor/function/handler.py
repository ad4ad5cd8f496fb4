def handle(event, context):
    """event: body (bytes), headers, method, query, path. Return a dict
    {"statusCode", "body", "headers"}, a string or bytes."""
    return {
        "statusCode": 200,
        "body": event.body.decode("utf-8", "replace"),
        "headers": {"Content-Type": "text/plain"},
    }
