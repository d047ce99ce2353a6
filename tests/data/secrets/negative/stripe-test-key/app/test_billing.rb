Stripe.api_key = 'sk_test_8kcqVXY34B9MZZ0nKp34YW3p'
