"""The ways contacts arrive: phone and e-mail."""
