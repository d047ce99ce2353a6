const rsaHeader = "-----BEGIN RSA PRIVATE KEY-----"
const ecHeader = "-----BEGIN EC PRIVATE KEY-----"
