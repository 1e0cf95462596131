listener "public" {
  address = "127.0.0.1:8080"

upstream "chat" {
  servers = ["ws://127.0.0.1:9000"]
}
