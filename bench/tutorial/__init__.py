"""A Channels-tutorial-style notification app, written by us as the benchmark's point of comparison.

It is what the Channels tutorial and most blog posts build, kept deliberately plain: a model, a
``post_save`` receiver that calls ``async_to_sync(channel_layer.group_send)`` for every saved row, and an
``AsyncJsonWebsocketConsumer`` that joins the user's group and forwards each event as JSON. No replay, no
seq, no batching: whatever the channel layer drops is gone.
"""
