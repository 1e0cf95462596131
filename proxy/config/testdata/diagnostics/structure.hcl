listener "public" {
  address = "0.0.0.0:8080"
}

listener "public" {
  address = ":8080"
}

listener "spare" {
  address = "127.0.0.1:9090"
}

upstream "chat" {
  servers = ["ws://127.0.0.1:9000", "https://10.0.0.2", "wss://10.0.0.3#x"]
}

route "chat" {
  listener   = "public"
  host       = "chat.example.com:443"
  path       = "/ws/"
  exact_path = "/ws"
  headers    = { "X-Tenant" = "acme", "x-tenant" = "other" }
  origins    = ["https://chat.example.com/"]
  filters    = ["auth"]
}

admin {
  address = "127.0.0.1:9090"
}
