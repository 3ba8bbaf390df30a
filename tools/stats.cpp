#include "stats.hpp"

#include <algorithm>
#include <cmath>

namespace arenalloc_cli {

Stat compute_stat(std::vector<double> xs) {
  Stat s;
  s.n = static_cast<int>(xs.size());
  if (xs.empty()) return s;
  std::sort(xs.begin(), xs.end());
  const std::size_t n = xs.size();
  s.median = n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
  s.min = xs.front();
  s.max = xs.back();
  double sum = 0;
  for (double x : xs) sum += x;
  s.mean = sum / static_cast<double>(n);
  if (n > 1) {
    double sq = 0;
    for (double x : xs) sq += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(sq / static_cast<double>(n - 1));
  }
  return s;
}

double geomean(const std::vector<double>& xs) {
  if (xs.empty()) return 0;
  double logsum = 0;
  for (double x : xs) logsum += std::log(x > 0 ? x : 1e-12);
  return std::exp(logsum / static_cast<double>(xs.size()));
}

}  // namespace arenalloc_cli
