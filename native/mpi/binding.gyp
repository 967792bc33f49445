# The optional Open MPI addon of orthoptim/node (src/node/mpi.ts). Built only by `npm run build:mpi`
# (never by `npm ci`): needs Debian's openmpi-bin + libopenmpi-dev (mpicc on the PATH).
{
  "targets": [
    {
      "target_name": "orthoptim_mpi",
      "sources": ["mpi.c"],
      "include_dirs": ["<!@(mpicc --showme:incdirs)"],
      "libraries": ["<!@(mpicc --showme:link)", "-ldl"],
      "defines": ["OMPI_SKIP_MPICXX=1", "NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
