// Summary statistics of a sample: median, min, max, mean, standard deviation.
#pragma once

#include <vector>

namespace arenalloc_cli {

struct Stat {
  int n = 0;
  double median = 0, min = 0, max = 0, mean = 0, stddev = 0;
};

Stat compute_stat(std::vector<double> xs);
double geomean(const std::vector<double>& xs);  // of positive values; 0 if empty

}  // namespace arenalloc_cli
