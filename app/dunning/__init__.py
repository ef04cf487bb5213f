"""The dunning pass: find what is due, plan it, log it, render it, send it, record it."""
