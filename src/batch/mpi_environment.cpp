// What mpirun tells a process through its environment: OpenMPI's OMPI_COMM_WORLD_* variables,
// or the PMI/PMIx ones of other launchers.
#include <cstdlib>

#include "batch/mpi_batch.hpp"

namespace llcuda {

bool launched_by_mpi() {
    for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
        if (const char* value = std::getenv(variable)) return std::atoi(value) > 1;
    }
    return false;
}

int mpi_local_rank() {
    for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_RANK"}) {
        if (const char* value = std::getenv(variable)) return std::atoi(value);
    }
    return 0;
}

}  // namespace llcuda
