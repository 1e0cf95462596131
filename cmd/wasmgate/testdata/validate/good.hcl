# A valid configuration: validate prints "good.hcl: ok".
listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers         = ["ws://127.0.0.1:9000", "ws://127.0.0.1:9001"]
  connect_timeout = "2s"
}

route "chat" {
  path     = "/ws/"
  upstream = "chat"
  limits {
    max_message_size = "1MiB"
  }
}
