"""Monitor a model with no rewrite: wrappers that log every prediction they make.

- :class:`driftline.integrations.sklearn.MonitoredModel` wraps any estimator with
  ``predict_proba``;
- :class:`driftline.integrations.torch.MonitoredModule` wraps a PyTorch ``nn.Module``
  (extra ``driftline[torch]``), logging softmax scores and a hooked layer's embedding.

Both build the rows the spec describes (:mod:`driftline.integrations._rows`) and hand
them to :meth:`driftline.Monitor.log_predictions`, at once or in buffered batches.
"""
