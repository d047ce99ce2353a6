Stripe.api_key = 'sk_live_ESKse9MqfAmtPEdxHEumEYhs'
