// gatehouse's native addon (N-API, so one build loads in every Node version the package runs
// on). It holds only what Node's JS API cannot do; gatehouse runs without it (see
// src/shared/native.ts), and each function is a few system calls with no state of its own.
//
// acceptBurst: libuv (1.45+) accepts one connection per listening handle and loop turn. A turn
// that serves thousands of connections lasts tens of milliseconds, so a burst of connects
// overflows the kernel's accept queue (native-bench (f)); this lets a worker drain the queue
// once woken, as HAProxy's tune.maxaccept does.
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#define THROW_IF(cond, msg)                 \
  do {                                      \
    if (cond) {                             \
      napi_throw_type_error(env, NULL, msg); \
      return NULL;                          \
    }                                       \
  } while (0)

// The call's first `want` arguments into argv, the first one a descriptor number into fd;
// false when there are fewer or argv[0] is not a number >= 0.
static bool fd_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv, int32_t* fd) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return false;
  return napi_get_value_int32(env, argv[0], fd) == napi_ok && *fd >= 0;
}

// acceptBurst(fd: number, out: Int32Array): number
// Accepts up to out.length connections from listening socket fd (non-blocking, close-on-exec),
// their descriptors written to out. Returns how many; or -errno when none was accepted and the
// queue was not simply empty (EMFILE, ENFILE, ENOBUFS, ENOMEM, EBADF ...).
static napi_value AcceptBurst(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  THROW_IF(!fd_args(env, info, 2, argv, &fd), "acceptBurst(fd, out): fd must be a descriptor number");
  napi_typedarray_type type;
  size_t length;
  void* data;
  THROW_IF(napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array,
           "acceptBurst: out must be an Int32Array");
  int32_t* out = (int32_t*)data;
  int32_t n = 0;
  int32_t err = 0;
  while ((size_t)n < length) {
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      out[n++] = c;
      continue;
    }
    // a peer that reset before its turn: the next one may be fine (libuv skips these too)
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) err = -errno;
    break;
  }
  napi_value result;
  napi_create_int32(env, n > 0 ? n : err, &result);
  return result;
}

// closeFd(fd: number): number (0, or -errno): for a descriptor no handle took
static napi_value CloseFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  THROW_IF(!fd_args(env, info, 1, argv, &fd), "closeFd(fd): fd must be a descriptor number");
  napi_value result;
  napi_create_int32(env, close(fd) == 0 ? 0 : -errno, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"acceptBurst", NULL, AcceptBurst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, CloseFd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
