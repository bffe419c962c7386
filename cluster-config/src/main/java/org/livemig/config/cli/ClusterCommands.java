package org.livemig.config.cli;

import static org.livemig.config.cli.Migratectl.EXIT_OK;
import static org.livemig.config.cli.Migratectl.EXIT_VERIFY_MISMATCH;

import com.google.protobuf.Struct;
import java.util.ArrayList;
import java.util.List;
import com.google.protobuf.Value;
import org.livemig.config.cli.Migratectl.Sub;
import org.livemig.config.http.Json;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.GuestVerification;
import org.livemig.messages.InitialFill;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** migratectl's commands on hosts and guests: /hosts and /guests of the operator HTTP API. */
final class ClusterCommands {
  private ClusterCommands() {}

  @Command(name = "hosts", description = "Cluster members with their address, status and roles, then every "
      + "registered host with its data endpoint and guest count.")
  static final class Hosts extends Sub {
    @Override
    int execute(OperatorApi api) throws Exception {
      Struct s = Json.parse(api.get("/hosts"), Struct.newBuilder()).build();
      for (Value m : s.getFieldsOrThrow("members").getListValue().getValuesList()) {
        var f = m.getStructValue().getFieldsMap();
        root.out.printf("%-40s  %-8s  %s%n", f.get("address").getStringValue(), f.get("status").getStringValue(),
            String.join(",", f.get("roles").getListValue().getValuesList().stream().map(Value::getStringValue).toList()));
      }
      for (Value h : s.getFieldsOrThrow("hosts").getListValue().getValuesList()) {
        var f = h.getStructValue().getFieldsMap();
        root.out.printf("host %-12s  data %-21s  %2.0f guest(s)  %s%n", f.get("host_id").getStringValue(),
            f.get("data_endpoint").getStringValue(), f.get("guests").getNumberValue(), f.get("address").getStringValue());
      }
      return EXIT_OK;
    }
  }

  @Command(name = "guests", description = "The guests of every host: id, host, state, size, workload steps, and "
      + "each disk's writes, requests in flight and errors.")
  static final class Guests extends Sub {
    @Override
    int execute(OperatorApi api) throws Exception {
      Struct s = Json.parse(api.get("/guests"), Struct.newBuilder()).build();
      root.out.printf("%-20s  %-12s  %-10s  %10s  %s%n", "GUEST", "HOST", "STATE", "SIZE MiB", "STEPS");
      for (Value g : s.getFieldsOrThrow("guests").getListValue().getValuesList()) {
        var f = g.getStructValue().getFieldsMap();
        root.out.printf("%-20s  %-12s  %-10s  %10.0f  %.0f%n", f.get("guest_id").getStringValue(),
            f.get("host").getStringValue(), f.get("state").getStringValue(),
            f.get("size_bytes").getNumberValue() / ProgressBar.MIB, f.get("steps").getNumberValue());
        if (!f.containsKey("disks")) continue;
        for (Value disk : f.get("disks").getListValue().getValuesList()) {
          var k = disk.getStructValue().getFieldsMap();
          root.out.printf("  disk %s on %s: %.0f MiB, %s writes, %s reads, %s in flight, %s write errors%s%n",
              text(k, "disk_id"), text(k, "datastore"), number(k, "size_bytes") / ProgressBar.MIB, text(k, "writes"),
              text(k, "reads"), text(k, "in_flight"), text(k, "write_errors"),
              k.containsKey("full") && k.get("full").getBoolValue() ? ", FULL" : "");
        }
      }
      return EXIT_OK;
    }
  }

  @Command(name = "create-guest", description = "Create a synthetic guest on the host of the node --url names, and "
      + "run it: 4 KiB pages, each starting with content derived from the seed; its workload writes pages (80%% of "
      + "them in a hot set of a quarter of its memory, at most 2048 pages), so that verify can check it against its "
      + "oracle after a migration. Exit 7 if that node is not a host.")
  static final class CreateGuest extends Sub {
    static final int PAGE_SIZE = 4096;

    @Parameters(paramLabel = "GUEST", description = "the new guest's id: letters, digits, '.', '_', '-'") String guest;
    @Option(names = "--size-mib", paramLabel = "MIB", defaultValue = "64", description = "its memory in MiB. "
        + "Default: ${DEFAULT-VALUE}") long sizeMib;
    @Option(names = "--dirty-pages-per-second", paramLabel = "N", defaultValue = "1000", description = "pages its "
        + "workload writes per second while it runs, 0 = idle. Default: ${DEFAULT-VALUE} (4 MB/s)") long dirtyRate;
    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "seeds its content and workload. "
        + "Default: ${DEFAULT-VALUE}") long seed;
    @Option(names = "--disk", paramLabel = "ID:DATASTORE:MIB[:QUEUE_DEPTH[:WRITES_PER_SECOND]]", description = "a "
        + "virtual disk in a datastore of the host (livemig.host.datastores), 4 KiB blocks; its workload keeps up to "
        + "QUEUE_DEPTH requests in flight (default 8) and writes WRITES_PER_SECOND blocks (default 100), one read "
        + "every four writes. Repeatable. Default: no disk.") List<String> disks = new ArrayList<>();

    @Override
    int execute(OperatorApi api) throws Exception {
      List<DiskDescription> parsed;
      try {
        parsed = parseDisks(disks);
      } catch (IllegalArgumentException e) {
        root.err.println("migratectl: " + e.getMessage());
        return Migratectl.EXIT_USAGE;
      }
      long pages = sizeMib * (1024 * 1024 / PAGE_SIZE);
      GuestDescription d = GuestDescription.newBuilder().setGuestId(guest).setPageSize(PAGE_SIZE).setPageCount(pages)
          .setSeed(seed).setDirtyPagesPerSecond(dirtyRate).setHotPages(Math.min(2048, pages / 4)).setHotPerMille(800)
          .setInitialFill(InitialFill.FILL_PATTERN).addAllDisks(parsed).build();
      Struct s = Json.parse(api.send("POST", "/guests", Json.print(d)), Struct.newBuilder()).build();
      var f = s.getFieldsOrThrow("guests").getListValue().getValues(0).getStructValue().getFieldsMap();
      root.out.printf("created guest %s: %.0f MiB, %s%n", f.get("guest_id").getStringValue(),
          f.get("size_bytes").getNumberValue() / ProgressBar.MIB, f.get("state").getStringValue());
      return EXIT_OK;
    }
  }

  /** --disk values; IllegalArgumentException naming a malformed one. */
  static List<DiskDescription> parseDisks(List<String> specs) {
    List<DiskDescription> out = new ArrayList<>();
    for (String spec : specs) {
      String[] p = spec.split(":");
      try {
        if (p.length < 3 || p.length > 5) throw new NumberFormatException();
        out.add(DiskDescription.newBuilder().setDiskId(p[0]).setDatastore(p[1])
            .setBlockCount(Long.parseLong(p[2]) * (1024 * 1024 / CreateGuest.PAGE_SIZE))
            .setQueueDepth(p.length > 3 ? Integer.parseInt(p[3]) : 8)
            .setWritesPerSecond(p.length > 4 ? Long.parseLong(p[4]) : 100).setReadsPerMille(250).build());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--disk " + spec + ": expected ID:DATASTORE:MIB[:QUEUE_DEPTH[:WRITES_PER_SECOND]] with numbers", e);
      }
    }
    return out;
  }

  private static String text(java.util.Map<String, Value> f, String key) {
    if (!f.containsKey(key)) return "0";
    Value v = f.get(key);
    return v.hasStringValue() ? v.getStringValue() : String.format("%.0f", v.getNumberValue());
  }

  private static double number(java.util.Map<String, Value> f, String key) {
    if (!f.containsKey(key)) return 0;
    Value v = f.get(key);
    return v.hasStringValue() ? Double.parseDouble(v.getStringValue()) : v.getNumberValue();
  }

  @Command(name = "verify", description = "Check a guest's memory page by page (and its disks block by block) "
      + "against its oracle on the host that holds it (a running guest is paused while it is checked, then runs again). Exit 9 if it does not match.")
  static final class Verify extends Sub {
    @Parameters(paramLabel = "GUEST", description = "the guest's id") String guest;

    @Override
    int execute(OperatorApi api) throws Exception {
      var v = Json.parse(api.get("/guests/" + guest + "/verify"), GuestVerification.newBuilder()).build();
      root.out.printf("guest %s on %s: %d pages checked after %d steps, %d mismatch(es)%s; %s (held %d ms)%n",
          v.getGuestId(), v.getHost(), v.getPagesChecked(), v.getSteps(), v.getMismatches(),
          v.getFirstMismatchesCount() == 0 ? "" : " (first pages " + v.getFirstMismatchesList() + ")",
          v.getVerified() ? "verified" : "DOES NOT MATCH", v.getCheckMs());
      for (var disk : v.getDisksList()) {
        root.out.printf("  disk %s: %d blocks checked after %d writes, %d mismatch(es)%s, %d written by a host that "
            + "did not own the guest%n", disk.getDiskId(), disk.getBlocksChecked(), disk.getWrites(),
            disk.getMismatches(), disk.getFirstMismatchesCount() == 0 ? "" : " (first blocks "
            + disk.getFirstMismatchesList() + ")", disk.getOwnershipViolations());
      }
      return v.getVerified() ? EXIT_OK : EXIT_VERIFY_MISMATCH;
    }
  }
}
