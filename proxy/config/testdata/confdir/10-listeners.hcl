listener "public" {
  address = "127.0.0.1:0"
}

listener "internal" {
  address = "127.0.0.1:0"
}
