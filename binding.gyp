{
  "targets": [
    {
      "target_name": "gatehouse_native",
      "sources": ["native/gatehouse_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["_GNU_SOURCE"]
    }
  ]
}
