"""Why this token: attribution of one next-token logit to the prompt's tokens (Captum)."""
