"""campaigner: batch outbound call campaigns for Retell AI voice agents."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
