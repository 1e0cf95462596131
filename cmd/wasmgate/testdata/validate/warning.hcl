# Valid, with a warning: no route uses listener "spare".
listener "public" {
  address = "127.0.0.1:8080"
}

listener "spare" {
  address = "127.0.0.1:8081"
}

upstream "chat" {
  servers = ["ws://127.0.0.1:9000"]
}

route "chat" {
  listener = "public"
  upstream = "chat"
}
