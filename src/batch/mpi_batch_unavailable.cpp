// Builds without MPI: `llcuda batch` under mpirun says how to get MPI instead of running N
// independent copies that would all write the same output.
#include "batch/mpi_batch.hpp"
#include "core/error.hpp"

namespace llcuda {

MpiSession::MpiSession() {
    throw Error(
        "this llcuda was built without MPI, so it cannot share a batch between mpirun ranks; "
        "install libopenmpi-dev (scripts/install-deps.sh does) and rebuild");
}
MpiSession::~MpiSession() = default;

std::vector<RankReport> run_batch_over_mpi(const MpiSession&, Engine&, const GenerationOptions&,
                                           BatchJob*) {
    return {};
}

}  // namespace llcuda
