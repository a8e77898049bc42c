"""Prepaid cards (卡项) on the customer's card: sell, top up, use, refund or close."""
