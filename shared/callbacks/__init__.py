"""The callbacks plane: run events sent, verified, applied once, never lost.

    executor --RunEvent--> CallbackSender --POST (signed / OIDC)--> POST /callbacks
                               |                                       |
                     after the last try                      CallbackReceiver
                               v                          verify -> record -> apply
                     dlq/callbacks/<event_id>.json     callbacks/events/<event_id>.json
                               |                        callbacks/runs/<run_id>.json
                     replay (CLI or POST /callbacks/replay)

Modules: ``payload`` (the wire format), ``config`` (environment), ``sender``,
``deadletters``, ``receiver`` (verification and the applied run view),
``replay`` and ``retry`` (a FAILED run retried as a new run).
"""
