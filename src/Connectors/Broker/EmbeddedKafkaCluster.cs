using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using static Kommune.Connectors.Broker.LibrdkafkaNative;

namespace Kommune.Connectors.Broker;

/// <summary>
/// An in-process Kafka cluster: librdkafka's mock cluster, which speaks the real Kafka wire protocol on 127.0.0.1
/// (consumer groups, idempotence, transactions, fault injection). Any Kafka client (Confluent.Kafka, kcat,
/// kafka-python) can use it through <see cref="BootstrapServers"/>. Data is kept in memory only, at most about
/// 5 MiB per partition: stream through it, and use more partitions for more data.
/// </summary>
public sealed class EmbeddedKafkaCluster : IDisposable
{
    private readonly Lock _gate = new();
    private IntPtr _handle;
    private IntPtr _cluster;
    private bool _countingRequests;

    private EmbeddedKafkaCluster(IntPtr handle, IntPtr cluster, int brokerCount)
    {
        _handle = handle;
        _cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster returned no bootstrap servers.");
    }

    /// <summary>The comma-separated host:port list that clients connect to.</summary>
    public string BootstrapServers { get; }

    /// <summary>How many brokers the cluster has; broker ids run from 1 to this number.</summary>
    public int BrokerCount { get; }

    /// <summary>Starts a cluster of <paramref name="brokerCount"/> brokers listening on loopback ports.</summary>
    /// <param name="brokerCount">Number of brokers, at least 1.</param>
    /// <param name="groupJoinDelay">
    /// How long the group coordinator waits for more members before the first rebalance of a new group. Kafka's
    /// default is 3 s; zero lets a lone consumer start at once.
    /// </param>
    public static EmbeddedKafkaCluster Start(int brokerCount = 1, TimeSpan? groupJoinDelay = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        EnsureResolver();

        var errstr = new byte[512];
        var conf = rd_kafka_conf_new();
        // The host handle only owns the mock cluster; it never connects anywhere itself.
        _ = rd_kafka_conf_set(conf, "log_level", "3", errstr, (UIntPtr)errstr.Length);
        var handle = rd_kafka_new(RdKafkaProducer, conf, errstr, (UIntPtr)errstr.Length);
        if (handle == IntPtr.Zero)
        {
            throw new InvalidOperationException($"rd_kafka_new failed: {ReadError(errstr)}");
        }

        var cluster = rd_kafka_mock_cluster_new(handle, brokerCount);
        if (cluster == IntPtr.Zero)
        {
            rd_kafka_destroy(handle);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed to start the embedded cluster.");
        }

        var result = new EmbeddedKafkaCluster(handle, cluster, brokerCount);
        result.SetGroupInitialRebalanceDelay(groupJoinDelay ?? TimeSpan.Zero);
        return result;
    }

    /// <summary>Creates a topic. Creating a topic that exists already is an error.</summary>
    /// <exception cref="KafkaException">The broker refused, for example because the topic exists.</exception>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        Check(rd_kafka_mock_topic_create(Cluster, topic, partitions, Math.Min(replicationFactor, BrokerCount)),
            $"create topic '{topic}'");
    }

    /// <summary>Takes a broker down: its connections close and it refuses new ones until <see cref="SetBrokerUp"/>.</summary>
    public void SetBrokerDown(int brokerId) => Check(rd_kafka_mock_broker_set_down(Cluster, brokerId), $"set broker {brokerId} down");

    /// <summary>Brings a broker back up.</summary>
    public void SetBrokerUp(int brokerId) => Check(rd_kafka_mock_broker_set_up(Cluster, brokerId), $"set broker {brokerId} up");

    /// <summary>Delays every response of a broker by <paramref name="roundTrip"/>: a slow broker.</summary>
    public void SetBrokerRoundTrip(int brokerId, TimeSpan roundTrip) =>
        Check(rd_kafka_mock_broker_set_rtt(Cluster, brokerId, (int)roundTrip.TotalMilliseconds), $"set rtt of broker {brokerId}");

    /// <summary>Moves the leadership of a partition to another broker.</summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId) =>
        Check(rd_kafka_mock_partition_set_leader(Cluster, topic, partition, brokerId),
            $"move leader of {topic}[{partition}] to broker {brokerId}");

    /// <summary>
    /// Makes the next requests of one API fail with the given errors, one error per request, in order: for
    /// example <c>PushRequestErrors(KafkaApi.Produce, ErrorCode.NotLeaderForPartition)</c>.
    /// </summary>
    public void PushRequestErrors(KafkaApi api, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var codes = errors.Select(e => (int)e).ToArray();
        lock (_gate)
        {
            rd_kafka_mock_push_request_errors_array(Cluster, (short)api, (UIntPtr)codes.Length, codes);
        }
    }

    /// <summary>
    /// Makes the next requests of one API for one partition fail with the given errors, one per request, in order:
    /// for example <c>PushPartitionRequestErrors("kommune.dead-letters", 0, KafkaApi.Produce, ErrorCode.InvalidRecord)</c>
    /// refuses the next produce to that partition only.
    /// </summary>
    public void PushPartitionRequestErrors(string topic, int partition, KafkaApi api, params ErrorCode[] errors)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentNullException.ThrowIfNull(errors);
        lock (_gate)
        {
            foreach (var error in errors)
            {
                Check(rd_kafka_mock_partition_push_request_errors(Cluster, topic, partition, (short)api, 1, (int)error),
                    $"push an error for {topic}[{partition}]");
            }
        }
    }

    /// <summary>
    /// Makes the broker report <paramref name="error"/> for a topic in its metadata answers (for example
    /// <see cref="ErrorCode.TopicAuthorizationFailed"/>); <see cref="ErrorCode.NoError"/> clears it.
    /// </summary>
    public void SetTopicError(string topic, ErrorCode error)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        lock (_gate)
        {
            rd_kafka_mock_topic_set_error(Cluster, topic, (int)error);
        }
    }

    /// <summary>Forgets the errors pushed for one API that have not been returned yet.</summary>
    public void ClearRequestErrors(KafkaApi api)
    {
        lock (_gate)
        {
            rd_kafka_mock_clear_request_errors(Cluster, (short)api);
        }
    }

    /// <summary>
    /// Starts counting the requests the brokers receive (<see cref="RequestsSeen"/>), from none: for tests of how many
    /// round trips a client makes.
    /// </summary>
    public void StartCountingRequests()
    {
        lock (_gate)
        {
            if (_countingRequests)
            {
                rd_kafka_mock_clear_requests(Cluster);
            }
            else
            {
                rd_kafka_mock_start_request_tracking(Cluster);
                _countingRequests = true;
            }
        }
    }

    /// <summary>How many requests of <paramref name="api"/> the brokers received since <see cref="StartCountingRequests"/>.</summary>
    public int RequestsSeen(KafkaApi api)
    {
        lock (_gate)
        {
            var requests = rd_kafka_mock_get_requests(Cluster, out var count);
            try
            {
                var seen = 0;
                for (var i = 0; i < (int)count; i++)
                {
                    if (rd_kafka_mock_request_api_key(Marshal.ReadIntPtr(requests, i * IntPtr.Size)) == (short)api)
                    {
                        seen++;
                    }
                }

                return seen;
            }
            finally
            {
                rd_kafka_mock_request_destroy_array(requests, count);
            }
        }
    }

    /// <summary>Sets how long a new consumer group waits for more members before its first rebalance.</summary>
    public void SetGroupInitialRebalanceDelay(TimeSpan delay)
    {
        lock (_gate)
        {
            rd_kafka_mock_group_initial_rebalance_delay_ms(Cluster, (int)delay.TotalMilliseconds);
        }
    }

    /// <summary>Stops the brokers and frees the cluster. Clients still connected see their connections close.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster != IntPtr.Zero)
            {
                rd_kafka_mock_cluster_destroy(_cluster);
                _cluster = IntPtr.Zero;
            }

            if (_handle != IntPtr.Zero)
            {
                rd_kafka_destroy(_handle);
                _handle = IntPtr.Zero;
            }
        }
    }

    private IntPtr Cluster
    {
        get
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            return _cluster;
        }
    }

    private static void Check(int errorCode, string what)
    {
        if (errorCode != 0)
        {
            var reason = Marshal.PtrToStringUTF8(rd_kafka_err2str(errorCode));
            throw new KafkaException(new Error((ErrorCode)errorCode, $"Embedded broker could not {what}: {reason}"));
        }
    }

    private static string ReadError(byte[] errstr)
    {
        var end = Array.IndexOf(errstr, (byte)0);
        return Encoding.UTF8.GetString(errstr, 0, end < 0 ? errstr.Length : end);
    }
}
