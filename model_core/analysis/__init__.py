"""Pure numpy (and scikit-learn) analysis of traces: sampling, projections, head statistics,
model sizes. The window uses these directly, without the engine."""
