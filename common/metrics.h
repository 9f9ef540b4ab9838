// Prometheus metrics held in the process and written in the text exposition format (0.0.4)
// for GET /metrics. Written here because Debian 12 packages no Prometheus client for C++
// (common/README.md); it is counters, gauges and histograms with labels, nothing more.
// Thread contract: everything is thread-safe. A series, once looked up, is updated with
// atomics only, so callers keep the reference for their hot paths.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace credd {

// A value that only goes up (resets only when the process restarts).
class Counter {
 public:
  void Add(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down, or is set from a reading.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets with fixed upper bounds (seconds, for every histogram
// credd has), plus their sum and count.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;                  // Upper bounds, ascending, without +Inf.
    std::vector<unsigned long long> cumulative;  // One per bound, then +Inf (= count).
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<unsigned long long>[]> buckets_;  // bounds_.size() + 1.
  std::atomic<double> sum_{0};
};

// Bucket bounds for durations, from 1 ms to 60 s.
std::vector<double> DurationBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric name with its help and label names; each distinct set of label values is a
// series, made on first use.
template <typename Series>
class MetricFamily {
 public:
  MetricFamily(std::vector<std::string> label_names, std::vector<double> bounds = {})
      : label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

  // The series for these label values, in the order of the label names.
  Series& With(const std::vector<std::string>& label_values);

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls visit(label_values, series) for each series, in label order.
  void ForEach(
      const std::function<void(const std::vector<std::string>&, const Series&)>& visit) const;

 private:
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricsRegistry {
 public:
  // Names follow Prometheus's rules (credd_ prefix, units, _total on counters); help is one
  // line. Registering a name twice is a bug and throws std::logic_error.
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> labels = {});
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> labels = {});
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> labels = {},
                                std::vector<double> bounds = DurationBuckets());

  // Runs before each exposition, to set gauges that are readings (a queue's depth in the
  // database). A collector that cannot read leaves its gauges at their last values.
  void OnCollect(std::function<void()> collect);

  // Runs the collectors, then writes every family in registration order.
  std::string Exposition();

 private:
  struct Entry {
    std::string name;
    std::string help;
    MetricType type;
    std::unique_ptr<CounterFamily> counters;
    std::unique_ptr<GaugeFamily> gauges;
    std::unique_ptr<HistogramFamily> histograms;
  };
  Entry& Add(const std::string& name, const std::string& help, MetricType type);

  std::mutex mu_;  // Guards entries_ and collectors_ (not the series).
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::function<void()>> collectors_;
  std::mutex collect_mu_;  // One exposition at a time runs the collectors.
};

// A label value escaped for the exposition format (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& value);

}  // namespace credd
