/*
 * orthoptim's Open MPI addon (Node-API, C): the collectives of src/linalg/communicator.ts's
 * Communicator on Float32Array buffers over MPI_COMM_WORLD, for orthoptim/node's mpiCommunicator
 * (src/node/mpi.ts, the only caller: it validates arguments, this file trusts them).
 *
 * - MPI_Init_thread(MPI_THREAD_FUNNELED) once per process, from Node's main thread (every call comes
 *   from that thread); MPI_Finalize at exit (atexit), skipped once a collective has timed out.
 * - Every collective is the non-blocking MPI-3 form (MPI_Iallreduce, MPI_Iallgatherv, …) completed by
 *   MPI_Test polling against a deadline: a rank that died or stopped calling collectives makes the
 *   others throw (code ERR_MPI_TIMEOUT) instead of hanging; the communicator is then unusable. The
 *   error handler is MPI_ERRORS_RETURN, so MPI errors become JS errors (code ERR_MPI) too.
 * - The calls are synchronous: Node's event loop waits while a collective runs, as a blocking MPI
 *   call would (tfjs's optimizer step is synchronous too).
 *
 * Built by node-gyp against libopenmpi-dev (binding.gyp: mpicc --showme:incdirs / --showme:link,
 * OMPI_SKIP_MPICXX so the C++ bindings are not needed).
 */
#include <node_api.h>
#include <mpi.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { UNINITIALIZED = 0, READY = 1, FINALIZED = 2, BROKEN = 3 };
static int state = UNINITIALIZED;
static int world_rank = 0;
static int world_size = 1;
static char broken_reason[256] = "";

#define HASH_BYTES 64

#define CHECK_NAPI(env, call)                                   \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error((env), "ERR_MPI_ADDON", #call " failed"); \
      return NULL;                                              \
    }                                                           \
  } while (0)

static void finalize_at_exit(void) {
  if (state == READY) {
    state = FINALIZED;
    MPI_Finalize();
  }
}

static napi_value throw_code(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static napi_value throw_mpi(napi_env env, const char *what, int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  char message[MPI_MAX_ERROR_STRING + 128];
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
  snprintf(message, sizeof message, "%s failed on rank %d of %d: %s", what, world_rank, world_size, text);
  return throw_code(env, "ERR_MPI", message);
}

/* Completes `req` by MPI_Test polling; 0 on success, -1 past the deadline, else the MPI error code. */
static int wait_until(MPI_Request *req, double timeout_ms) {
  const double deadline = MPI_Wtime() + timeout_ms / 1000.0;
  long polls = 0;
  for (;;) {
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return rc;
    if (done) return 0;
    if (timeout_ms > 0 && MPI_Wtime() > deadline) return -1;
    /* spin briefly (latency), then sleep 50 µs per poll so an oversubscribed peer gets the core */
    if (++polls < 2000) {
      sched_yield();
    } else {
      struct timespec ts = {0, 50000};
      nanosleep(&ts, NULL);
    }
  }
}

/* Finishes a started collective (rc: what starting it returned): 1 when it completed, else 0 with a JS exception pending. */
static int finish(napi_env env, const char *what, int rc, MPI_Request *req, double timeout_ms) {
  if (rc == MPI_SUCCESS) rc = wait_until(req, timeout_ms);
  if (rc == 0) return 1;
  if (rc == -1) {
    char message[320];
    state = BROKEN;
    snprintf(broken_reason, sizeof broken_reason, "%s timed out after %.0f ms on rank %d of %d", what, timeout_ms,
             world_rank, world_size);
    snprintf(message, sizeof message,
             "%s: no answer from every rank after %.0f ms on rank %d of %d (a rank died, hangs, or called "
             "different collectives); the communicator cannot be used again",
             what, timeout_ms, world_rank, world_size);
    throw_code(env, "ERR_MPI_TIMEOUT", message);
    return 0;
  }
  throw_mpi(env, what, rc);
  return 0;
}

static int require_ready(napi_env env) {
  if (state == READY) return 1;
  if (state == BROKEN) {
    char message[400];
    snprintf(message, sizeof message, "MPI communicator unusable: %s", broken_reason);
    throw_code(env, "ERR_MPI_BROKEN", message);
  } else if (state == FINALIZED) {
    throw_code(env, "ERR_MPI_FINALIZED", "MPI was finalized in this process");
  } else {
    throw_code(env, "ERR_MPI_UNINITIALIZED", "MPI is not initialized: call init() first");
  }
  return 0;
}

static napi_value int_value(napi_env env, int v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* A Float32Array argument: data pointer and length. */
static int float32_arg(napi_env env, napi_value v, float **data, size_t *length) {
  napi_typedarray_type type;
  void *ptr;
  size_t offset;
  napi_value ab;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, &ab, &offset) != napi_ok) return 0;
  if (type != napi_float32_array) return 0;
  *data = (float *)ptr;
  return 1;
}

static int int32_arg(napi_env env, napi_value v, int32_t **data, size_t *length) {
  napi_typedarray_type type;
  void *ptr;
  size_t offset;
  napi_value ab;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, &ab, &offset) != napi_ok) return 0;
  if (type != napi_int32_array) return 0;
  *data = (int32_t *)ptr;
  return 1;
}

static napi_value new_float32(napi_env env, size_t length, float **data) {
  napi_value ab, out;
  void *ptr;
  if (napi_create_arraybuffer(env, length * sizeof(float), &ptr, &ab) != napi_ok) return NULL;
  if (napi_create_typedarray(env, napi_float32_array, length, ab, 0, &out) != napi_ok) return NULL;
  *data = (float *)ptr;
  return out;
}

static napi_value new_int32(napi_env env, size_t length, int32_t **data) {
  napi_value ab, out;
  void *ptr;
  if (napi_create_arraybuffer(env, length * sizeof(int32_t), &ptr, &ab) != napi_ok) return NULL;
  if (napi_create_typedarray(env, napi_int32_array, length, ab, 0, &out) != napi_ok) return NULL;
  *data = (int32_t *)ptr;
  return out;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    throw_code(env, "ERR_MPI_ADDON", "missing arguments");
    return 0;
  }
  return 1;
}

static double number_arg(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

/* init(): MPI_Init_thread(FUNNELED) once; returns { rank, size, thread, version }. */
static napi_value init(napi_env env, napi_callback_info info) {
  if (state == UNINITIALIZED) {
    int initialized = 0, provided = 0, rc;
    /* Open MPI's components are dlopen'ed plugins that need libmpi's symbols in the global scope;
     * Node loads this addon (and libmpi with it) RTLD_LOCAL. */
    if (dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL) dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL);
    MPI_Initialized(&initialized);
    if (!initialized) {
      rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
      if (rc != MPI_SUCCESS) return throw_mpi(env, "MPI_Init_thread", rc);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    state = READY;
    atexit(finalize_at_exit);
  } else if (!require_ready(env)) {
    return NULL;
  }
  {
    napi_value out, s;
    int provided = 0, major = 0, minor = 0, len = 0;
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    MPI_Query_thread(&provided);
    MPI_Get_version(&major, &minor);
    MPI_Get_library_version(version, &len);
    CHECK_NAPI(env, napi_create_object(env, &out));
    napi_set_named_property(env, out, "rank", int_value(env, world_rank));
    napi_set_named_property(env, out, "size", int_value(env, world_size));
    napi_set_named_property(env, out, "thread", int_value(env, provided));
    napi_set_named_property(env, out, "funneled", int_value(env, MPI_THREAD_FUNNELED));
    napi_create_string_utf8(env, version, NAPI_AUTO_LENGTH, &s);
    napi_set_named_property(env, out, "version", s);
    return out;
  }
}

/* allReduce(data: Float32Array, op: 0 sum | 1 max, timeoutMs) → Float32Array */
static napi_value all_reduce(napi_env env, napi_callback_info info) {
  napi_value argv[3], out;
  float *in, *res;
  size_t n;
  MPI_Request req;
  int32_t op = 0;
  if (!get_args(env, info, 3, argv) || !require_ready(env)) return NULL;
  if (!float32_arg(env, argv[0], &in, &n)) return throw_code(env, "ERR_MPI_ADDON", "allReduce: data must be a Float32Array");
  napi_get_value_int32(env, argv[1], &op);
  if ((out = new_float32(env, n, &res)) == NULL) return NULL;
  if (n == 0) return out;
  if (!finish(env, "allReduce", MPI_Iallreduce(in, res, (int)n, MPI_FLOAT, op == 1 ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD, &req),
              &req, number_arg(env, argv[2])))
    return NULL;
  return out;
}

/* allGather(data: Float32Array, timeoutMs) → [Float32Array of every rank's data in rank order, Int32Array counts] */
static napi_value all_gather(napi_env env, napi_callback_info info) {
  napi_value argv[2], data, counts, pair;
  float *in, *res;
  int32_t *cnt, *displs;
  size_t n, total = 0;
  int mine, r;
  MPI_Request req;
  double timeout;
  if (!get_args(env, info, 2, argv) || !require_ready(env)) return NULL;
  if (!float32_arg(env, argv[0], &in, &n)) return throw_code(env, "ERR_MPI_ADDON", "allGather: data must be a Float32Array");
  timeout = number_arg(env, argv[1]);
  if ((counts = new_int32(env, (size_t)world_size, &cnt)) == NULL) return NULL;
  mine = (int)n;
  if (!finish(env, "allGather (counts)", MPI_Iallgather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, MPI_COMM_WORLD, &req), &req, timeout))
    return NULL;
  displs = malloc(sizeof(int32_t) * (size_t)world_size);
  for (r = 0; r < world_size; r++) {
    displs[r] = (int32_t)total;
    total += (size_t)cnt[r];
  }
  if ((data = new_float32(env, total, &res)) == NULL) {
    free(displs);
    return NULL;
  }
  if (total > 0 &&
      !finish(env, "allGather", MPI_Iallgatherv(in, mine, MPI_FLOAT, res, cnt, displs, MPI_FLOAT, MPI_COMM_WORLD, &req), &req,
              timeout)) {
    free(displs);
    return NULL;
  }
  free(displs);
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &pair));
  napi_set_element(env, pair, 0, data);
  napi_set_element(env, pair, 1, counts);
  return pair;
}

/* reduceScatter(data: Float32Array, counts: Int32Array (one per rank, summing to data.length), op, timeoutMs) → Float32Array */
static napi_value reduce_scatter(napi_env env, napi_callback_info info) {
  napi_value argv[4], out;
  float *in, *res;
  int32_t *cnt, op = 0;
  size_t n, nc;
  MPI_Request req;
  if (!get_args(env, info, 4, argv) || !require_ready(env)) return NULL;
  if (!float32_arg(env, argv[0], &in, &n) || !int32_arg(env, argv[1], &cnt, &nc) || nc != (size_t)world_size)
    return throw_code(env, "ERR_MPI_ADDON", "reduceScatter: need a Float32Array and an Int32Array of one count per rank");
  napi_get_value_int32(env, argv[2], &op);
  if ((out = new_float32(env, (size_t)cnt[world_rank], &res)) == NULL) return NULL;
  if (!finish(env, "reduceScatter",
              MPI_Ireduce_scatter(in, res, cnt, MPI_FLOAT, op == 1 ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD, &req), &req,
              number_arg(env, argv[3])))
    return NULL;
  return out;
}

/* allToAll(data: Float32Array, sendCounts: Int32Array, timeoutMs) → [Float32Array received (rank order), Int32Array recvCounts] */
static napi_value all_to_all(napi_env env, napi_callback_info info) {
  napi_value argv[3], data, counts, pair;
  float *in, *res;
  int32_t *send, *recv, *sdispl, *rdispl;
  size_t n, nc, total = 0, stotal = 0;
  int r;
  MPI_Request req;
  double timeout;
  if (!get_args(env, info, 3, argv) || !require_ready(env)) return NULL;
  if (!float32_arg(env, argv[0], &in, &n) || !int32_arg(env, argv[1], &send, &nc) || nc != (size_t)world_size)
    return throw_code(env, "ERR_MPI_ADDON", "allToAll: need a Float32Array and an Int32Array of one count per rank");
  timeout = number_arg(env, argv[2]);
  if ((counts = new_int32(env, (size_t)world_size, &recv)) == NULL) return NULL;
  if (!finish(env, "allToAll (counts)", MPI_Ialltoall(send, 1, MPI_INT, recv, 1, MPI_INT, MPI_COMM_WORLD, &req), &req, timeout))
    return NULL;
  sdispl = malloc(sizeof(int32_t) * (size_t)world_size);
  rdispl = malloc(sizeof(int32_t) * (size_t)world_size);
  for (r = 0; r < world_size; r++) {
    sdispl[r] = (int32_t)stotal;
    stotal += (size_t)send[r];
    rdispl[r] = (int32_t)total;
    total += (size_t)recv[r];
  }
  if ((data = new_float32(env, total, &res)) == NULL || stotal != n) {
    free(sdispl);
    free(rdispl);
    return data == NULL ? NULL : throw_code(env, "ERR_MPI_ADDON", "allToAll: send counts do not sum to data.length");
  }
  if (!finish(env, "allToAll",
              MPI_Ialltoallv(in, send, sdispl, MPI_FLOAT, res, recv, rdispl, MPI_FLOAT, MPI_COMM_WORLD, &req), &req, timeout)) {
    free(sdispl);
    free(rdispl);
    return NULL;
  }
  free(sdispl);
  free(rdispl);
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &pair));
  napi_set_element(env, pair, 0, data);
  napi_set_element(env, pair, 1, counts);
  return pair;
}

/* broadcast(data: Float32Array, root, timeoutMs) → Float32Array (root's data on every rank), or the
 * root's length (a number) when it differs from this rank's (every rank learns it: one MIN all-reduce). */
static napi_value broadcast(napi_env env, napi_callback_info info) {
  napi_value argv[3], out;
  float *in, *res;
  size_t n;
  int32_t root = 0;
  int length, ok, all_ok;
  MPI_Request req;
  double timeout;
  if (!get_args(env, info, 3, argv) || !require_ready(env)) return NULL;
  if (!float32_arg(env, argv[0], &in, &n)) return throw_code(env, "ERR_MPI_ADDON", "broadcast: data must be a Float32Array");
  napi_get_value_int32(env, argv[1], &root);
  timeout = number_arg(env, argv[2]);
  length = (int)n;
  if (!finish(env, "broadcast (length)", MPI_Ibcast(&length, 1, MPI_INT, root, MPI_COMM_WORLD, &req), &req, timeout)) return NULL;
  ok = length == (int)n;
  if (!finish(env, "broadcast (check)", MPI_Iallreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req), &req, timeout))
    return NULL;
  if (!all_ok) {
    napi_value bad;
    napi_create_int32(env, ok ? -1 : length, &bad);
    return bad;
  }
  if ((out = new_float32(env, n, &res)) == NULL) return NULL;
  if (world_rank == root) memcpy(res, in, n * sizeof(float));
  if (n > 0 && !finish(env, "broadcast", MPI_Ibcast(res, (int)n, MPI_FLOAT, root, MPI_COMM_WORLD, &req), &req, timeout)) return NULL;
  return out;
}

/* barrier(timeoutMs) */
static napi_value barrier(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  MPI_Request req;
  if (!get_args(env, info, 1, argv) || !require_ready(env)) return NULL;
  if (!finish(env, "barrier", MPI_Ibarrier(MPI_COMM_WORLD, &req), &req, number_arg(env, argv[0]))) return NULL;
  return NULL;
}

/* allGatherHash(hash: string of ≤ 64 bytes, timeoutMs) → string[] (rank order): the start-up check. */
static napi_value all_gather_hash(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  char mine[HASH_BYTES + 1];
  char *all;
  size_t len = 0;
  int r;
  MPI_Request req;
  if (!get_args(env, info, 2, argv) || !require_ready(env)) return NULL;
  memset(mine, 0, sizeof mine);
  if (napi_get_value_string_utf8(env, argv[0], mine, sizeof mine, &len) != napi_ok)
    return throw_code(env, "ERR_MPI_ADDON", "allGatherHash: hash must be a string");
  all = calloc((size_t)world_size, HASH_BYTES + 1);
  if (!finish(env, "allGatherHash",
              MPI_Iallgather(mine, HASH_BYTES, MPI_CHAR, all, HASH_BYTES, MPI_CHAR, MPI_COMM_WORLD, &req), &req,
              number_arg(env, argv[1]))) {
    free(all);
    return NULL;
  }
  napi_create_array_with_length(env, (size_t)world_size, &out);
  for (r = 0; r < world_size; r++) {
    char one[HASH_BYTES + 1];
    napi_value s;
    memcpy(one, all + (size_t)r * HASH_BYTES, HASH_BYTES);
    one[HASH_BYTES] = 0;
    napi_create_string_utf8(env, one, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, out, (uint32_t)r, s);
  }
  free(all);
  return out;
}

/* abort(code): MPI_Abort on every rank of the job (mpirun ends it). */
static napi_value abort_job(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t code = 1;
  if (!get_args(env, info, 1, argv)) return NULL;
  napi_get_value_int32(env, argv[0], &code);
  if (state == READY || state == BROKEN) MPI_Abort(MPI_COMM_WORLD, code);
  return NULL;
}

/* finalize(): MPI_Finalize now (else at exit). */
static napi_value finalize(napi_env env, napi_callback_info info) {
  finalize_at_exit();
  return NULL;
}

/* state(): 'uninitialized' | 'ready' | 'finalized' | 'broken' */
static napi_value state_of(napi_env env, napi_callback_info info) {
  static const char *names[] = {"uninitialized", "ready", "finalized", "broken"};
  napi_value s;
  napi_create_string_utf8(env, names[state], NAPI_AUTO_LENGTH, &s);
  return s;
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", NULL, init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allReduce", NULL, all_reduce, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allGather", NULL, all_gather, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reduceScatter", NULL, reduce_scatter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allToAll", NULL, all_to_all, NULL, NULL, NULL, napi_enumerable, NULL},
      {"broadcast", NULL, broadcast, NULL, NULL, NULL, napi_enumerable, NULL},
      {"barrier", NULL, barrier, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allGatherHash", NULL, all_gather_hash, NULL, NULL, NULL, napi_enumerable, NULL},
      {"abort", NULL, abort_job, NULL, NULL, NULL, napi_enumerable, NULL},
      {"finalize", NULL, finalize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"state", NULL, state_of, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
