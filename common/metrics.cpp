#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace credd {

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<unsigned long long>[bounds.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  // The first bound at or above the value ("le"); past the last one, the +Inf bucket.
  const auto at = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[static_cast<std::size_t>(at)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  unsigned long long running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> DurationBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

template <typename Series>
Series& MetricFamily<Series>::With(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::logic_error("metric series with " + std::to_string(label_values.size()) +
                           " label values for " + std::to_string(label_names_.size()) + " labels");
  }
  std::lock_guard lock(mu_);
  auto& slot = series_[label_values];
  if (!slot) {
    if constexpr (std::is_same_v<Series, Histogram>) {
      slot = std::make_unique<Histogram>(bounds_);
    } else {
      slot = std::make_unique<Series>();
    }
  }
  return *slot;
}

template <typename Series>
void MetricFamily<Series>::ForEach(
    const std::function<void(const std::vector<std::string>&, const Series&)>& visit) const {
  std::lock_guard lock(mu_);
  for (const auto& [labels, series] : series_) visit(labels, *series);
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

MetricsRegistry::Entry& MetricsRegistry::Add(const std::string& name, const std::string& help,
                                             MetricType type) {
  std::lock_guard lock(mu_);
  for (const auto& entry : entries_) {
    if (entry->name == name) throw std::logic_error("metric registered twice: " + name);
  }
  entries_.push_back(std::make_unique<Entry>(Entry{name, help, type, {}, {}, {}}));
  return *entries_.back();
}

CounterFamily& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                           std::vector<std::string> labels) {
  Entry& entry = Add(name, help, MetricType::kCounter);
  entry.counters = std::make_unique<CounterFamily>(std::move(labels));
  return *entry.counters;
}

GaugeFamily& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels) {
  Entry& entry = Add(name, help, MetricType::kGauge);
  entry.gauges = std::make_unique<GaugeFamily>(std::move(labels));
  return *entry.gauges;
}

HistogramFamily& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                               std::vector<std::string> labels,
                                               std::vector<double> bounds) {
  Entry& entry = Add(name, help, MetricType::kHistogram);
  entry.histograms = std::make_unique<HistogramFamily>(std::move(labels), std::move(bounds));
  return *entry.histograms;
}

void MetricsRegistry::OnCollect(std::function<void()> collect) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double: "0.0025", not "0.0025000000000000001".
  char buffer[64];
  const std::to_chars_result written = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, written.ptr);
}

// {a="x",b="y"} with an extra label at the end (le, for buckets); empty when there are none.
std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& extra_name = {}, const std::string& extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra_name + "=\"" + extra_value + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

}  // namespace

std::string MetricsRegistry::Exposition() {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  std::lock_guard collecting(collect_mu_);
  for (const auto& collect : collectors) collect();

  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& entry : entries_) {
    static const char* const kTypeNames[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + entry->name + " " + entry->help + "\n";
    out += "# TYPE " + entry->name + " " + kTypeNames[static_cast<int>(entry->type)] + "\n";
    switch (entry->type) {
      case MetricType::kCounter:
        entry->counters->ForEach([&](const auto& labels, const Counter& c) {
          out += entry->name + Labels(entry->counters->label_names(), labels) + " " +
                 FormatValue(c.Value()) + "\n";
        });
        break;
      case MetricType::kGauge:
        entry->gauges->ForEach([&](const auto& labels, const Gauge& g) {
          out += entry->name + Labels(entry->gauges->label_names(), labels) + " " +
                 FormatValue(g.Value()) + "\n";
        });
        break;
      case MetricType::kHistogram:
        entry->histograms->ForEach([&](const auto& labels, const Histogram& h) {
          const auto& names = entry->histograms->label_names();
          Histogram::Snapshot s = h.Read();
          for (std::size_t i = 0; i < s.bounds.size(); ++i) {
            out += entry->name + "_bucket" + Labels(names, labels, "le", FormatValue(s.bounds[i])) +
                   " " + FormatValue(static_cast<double>(s.cumulative[i])) + "\n";
          }
          const double count = static_cast<double>(s.cumulative.back());
          out += entry->name + "_bucket" + Labels(names, labels, "le", "+Inf") + " " +
                 FormatValue(count) + "\n";
          out += entry->name + "_sum" + Labels(names, labels) + " " + FormatValue(s.sum) + "\n";
          out += entry->name + "_count" + Labels(names, labels) + " " + FormatValue(count) + "\n";
        });
        break;
    }
  }
  return out;
}

}  // namespace credd
