#include <kwh/daemon/health.hpp>

#include <doctest/doctest.h>

using namespace kwh::daemon;

TEST_CASE("Health: a meter goes offline after offline_after failed polls in a row, once") {
  MeterHealth h(Status::online, 0);
  CHECK_FALSE(h.failed(3));
  CHECK_FALSE(h.failed(3));
  auto change = h.failed(3);
  REQUIRE(change);
  CHECK(*change == Status::offline);
  CHECK(h.failed_polls() == 3);
  // Further failures change nothing (one event per change).
  CHECK_FALSE(h.failed(3));
  CHECK(h.failed_polls() == 4);
}

TEST_CASE("Health: a success in between starts the count again") {
  MeterHealth h(Status::online, 0);
  h.failed(3);
  h.failed(3);
  CHECK_FALSE(h.succeeded());
  CHECK(h.failed_polls() == 0);
  CHECK_FALSE(h.failed(3));
  CHECK(h.status() == Status::online);
}

TEST_CASE("Health: an offline meter is online again on the next success") {
  MeterHealth h(Status::offline, 7);
  auto change = h.succeeded();
  REQUIRE(change);
  CHECK(*change == Status::online);
  CHECK(h.failed_polls() == 0);
  // A new meter (unknown) becomes online on its first answer.
  MeterHealth fresh;
  REQUIRE(fresh.succeeded());
  CHECK(fresh.status() == Status::online);
}

TEST_CASE("Health: the failed-poll count carries over from the database") {
  MeterHealth h(Status::online, 2); // kwhd restarted after two failures
  auto change = h.failed(3);
  REQUIRE(change);
  CHECK(*change == Status::offline);
}

TEST_CASE("Health: a gateway is offline when all its meters are, online when one answers") {
  GatewayHealth g(Status::online);
  CHECK_FALSE(g.update(1, 2, 3));
  auto down = g.update(0, 3, 3);
  REQUIRE(down);
  CHECK(*down == Status::offline);
  CHECK_FALSE(g.update(0, 3, 3));
  auto up = g.update(1, 2, 3);
  REQUIRE(up);
  CHECK(*up == Status::online);
  // No meters: nothing to say.
  GatewayHealth empty;
  CHECK_FALSE(empty.update(0, 0, 0));
}
