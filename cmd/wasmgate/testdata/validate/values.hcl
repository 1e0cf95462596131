listener "public" {
  address = "127.0.0.1:99999"
}

upstream "chat" {
  servers         = ["http://127.0.0.1:9000"]
  connect_timeout = "2 seconds"
}

route "chat" {
  upstream = "chatt"
  limits {
    max_message_size = "lots"
    max_connections  = -1
  }
}
