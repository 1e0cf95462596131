listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2"
}

route "chat" {
  upstream = "chat"
  limits {
    max_message_size = "1.5MiB"
    max_frame_size   = "64MiB"
    idle_timeout     = "-5m"
  }
}

limits {
  max_message_size = "1MiB"
  max_frame_size   = "2MiB"
  max_header_size  = "512B"
  write_timeout    = "0"
}

limits {
  ping_interval = "10s"
}
