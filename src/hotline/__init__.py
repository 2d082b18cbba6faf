"""hotline: sovereign nodes for a coalition's crisis hotline, consultations and warning data."""

__version__ = "0.1.0"
