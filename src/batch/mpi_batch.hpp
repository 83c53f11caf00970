#pragma once
// `llcuda batch` under mpirun: rank 0 reads the input, hands out items on request (each rank
// asks when its slots run dry, so a slow rank simply asks less often), journals every result
// the moment it arrives (a rank that dies loses only the items it was running) and writes the
// output; every rank, rank 0 included, runs items on its own engine. Per-rank figures are
// gathered with MPI_Gather for one summary.
#include <cstddef>
#include <string>
#include <vector>

#include "batch/batch_job.hpp"
#include "llcuda/engine.hpp"

namespace llcuda {

struct RankReport {
    int rank = 0;
    size_t items = 0;
    uint64_t completion_tokens = 0;
    double seconds = 0;  // from start to the rank's last result
    std::string device;
};

// True when this process was started by mpirun with more than one rank (read from the
// launcher's environment, so it works in builds without MPI too).
bool launched_by_mpi();
// This rank's index among the ranks on its machine (picks its GPU); 0 outside mpirun.
int mpi_local_rank();

class MpiSession {
  public:
    MpiSession();  // MPI_Init; throws when llcuda was built without MPI
    ~MpiSession();
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;
    int rank() const { return rank_; }
    int size() const { return size_; }

  private:
    int rank_ = 0;
    int size_ = 1;
};

// Runs the batch over all ranks. `job` is rank 0's (null elsewhere). Returns every rank's
// report on rank 0 and an empty list on the others.
std::vector<RankReport> run_batch_over_mpi(const MpiSession& session, Engine& engine,
                                           const GenerationOptions& defaults, BatchJob* job);

}  // namespace llcuda
