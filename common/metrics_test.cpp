#include "common/metrics.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

namespace credd {
namespace {

TEST(Metrics, WritesEachTypeInTheTextFormat) {
  MetricsRegistry registry;
  CounterFamily& files = registry.AddCounter("credd_files_total", "Files by outcome.", {"outcome"});
  GaugeFamily& depth = registry.AddGauge("credd_outbox_depth", "Emails by state.", {"state"});
  HistogramFamily& send =
      registry.AddHistogram("credd_smtp_send_seconds", "SMTP send time.", {}, {0.1, 1});
  files.With({"done"}).Add();
  files.With({"done"}).Add(2);
  files.With({"rejected"}).Add();
  depth.With({"queued"}).Set(7);
  send.With({}).Observe(0.05);
  send.With({}).Observe(0.5);
  send.With({}).Observe(3);

  EXPECT_EQ(registry.Exposition(),
            "# HELP credd_files_total Files by outcome.\n"
            "# TYPE credd_files_total counter\n"
            "credd_files_total{outcome=\"done\"} 3\n"
            "credd_files_total{outcome=\"rejected\"} 1\n"
            "# HELP credd_outbox_depth Emails by state.\n"
            "# TYPE credd_outbox_depth gauge\n"
            "credd_outbox_depth{state=\"queued\"} 7\n"
            "# HELP credd_smtp_send_seconds SMTP send time.\n"
            "# TYPE credd_smtp_send_seconds histogram\n"
            "credd_smtp_send_seconds_bucket{le=\"0.1\"} 1\n"
            "credd_smtp_send_seconds_bucket{le=\"1\"} 2\n"
            "credd_smtp_send_seconds_bucket{le=\"+Inf\"} 3\n"
            "credd_smtp_send_seconds_sum 3.55\n"
            "credd_smtp_send_seconds_count 3\n");
}

TEST(Metrics, BucketsIncludeTheirUpperBound) {
  Histogram h({0.5, 1});
  h.Observe(0.5);
  h.Observe(1);
  h.Observe(1.0000001);
  Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.cumulative, (std::vector<unsigned long long>{1, 2, 3}));
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  MetricsRegistry registry;
  registry.AddCounter("credd_x_total", "X.", {"route"}).With({"/verify/\"x\""}).Add();
  EXPECT_NE(registry.Exposition().find("credd_x_total{route=\"/verify/\\\"x\\\"\"} 1"),
            std::string::npos);
}

TEST(Metrics, CollectorsRunBeforeEachExposition) {
  MetricsRegistry registry;
  GaugeFamily& g = registry.AddGauge("credd_reading", "A reading.");
  int runs = 0;
  registry.OnCollect([&] { g.With({}).Set(++runs); });
  EXPECT_NE(registry.Exposition().find("credd_reading 1\n"), std::string::npos);
  EXPECT_NE(registry.Exposition().find("credd_reading 2\n"), std::string::npos);
}

TEST(Metrics, MisuseIsABug) {
  MetricsRegistry registry;
  CounterFamily& c = registry.AddCounter("credd_a_total", "A.", {"x"});
  EXPECT_THROW(registry.AddGauge("credd_a_total", "Again."), std::logic_error);
  EXPECT_THROW(c.With({}), std::logic_error);
  EXPECT_THROW(c.With({"1", "2"}), std::logic_error);
}

TEST(Metrics, CountsFromManyThreadsAddUp) {
  MetricsRegistry registry;
  CounterFamily& c = registry.AddCounter("credd_n_total", "N.", {"t"});
  HistogramFamily& h = registry.AddHistogram("credd_d_seconds", "D.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.With({"same"}).Add();
        h.With({}).Observe(0.5);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(c.With({"same"}).Value(), 40000);
  EXPECT_EQ(h.With({}).Read().cumulative.back(), 40000u);
}

}  // namespace
}  // namespace credd
