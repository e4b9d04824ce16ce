// A grpc-go server of the InventoryService contract, for the bench's peers
// scenario: the server a user might write in Go instead. GetProductAvailability
// answers from an in-memory map with the semantics of inventory_server's
// built-in catalog: product123 has quantity 10, an unknown id is not
// available (quantity 0, status OK), an empty id or one over 128 bytes is
// INVALID_ARGUMENT. The other methods are left unimplemented (UNIMPLEMENTED).
//
// Built by bench/bench.py (GOPATH mode, Debian's packages, offline) from a copy
// of proto/inventory.proto with `option go_package = "example/inventorypb";`.
//
// Usage: grpc_go_server [-listen=127.0.0.1:0] [-catalog=data/catalog.csv]
// Prints "grpc_go_server listening on HOST:PORT"; on SIGTERM or SIGINT drains
// calls for up to 5 s and exits 0.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	pb "example/inventorypb"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type server struct {
	pb.UnimplementedInventoryServiceServer
	stock map[string]int32 // never written after start: no lock needed
}

func (s *server) GetProductAvailability(_ context.Context, r *pb.GetProductAvailabilityRequest) (*pb.GetProductAvailabilityResponse, error) {
	if len(r.ProductId) == 0 || len(r.ProductId) > 128 {
		return nil, status.Error(codes.InvalidArgument, "product_id must be 1 to 128 bytes")
	}
	q := s.stock[r.ProductId]
	return &pb.GetProductAvailabilityResponse{IsAvailable: q > 0, Quantity: q}, nil
}

// loadCatalog reads product_id,quantity lines (a header line and # comments allowed).
func loadCatalog(path string) (map[string]int32, error) {
	stock := map[string]int32{"product123": 10}
	if path == "" {
		return stock, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment, r.FieldsPerRecord = '#', 2
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	stock = map[string]int32{}
	for i, row := range rows {
		q, err := strconv.ParseInt(row[1], 10, 32)
		if err != nil && i == 0 {
			continue // the header
		} else if err != nil || q < 0 {
			return nil, fmt.Errorf("%s: line %d: bad quantity %q", path, i+1, row[1])
		}
		stock[row[0]] = int32(q)
	}
	return stock, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "host:port; port 0 picks a free one")
	catalog := flag.String("catalog", "", "product_id,quantity CSV; empty: product123 with 10")
	flag.Parse()
	stock, err := loadCatalog(*catalog)
	if err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterInventoryServiceServer(s, &server{stock: stock})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		time.AfterFunc(5*time.Second, s.Stop) // drain for at most 5 s, as inventory_server does
		s.GracefulStop()
	}()
	fmt.Printf("grpc_go_server listening on %s (%d products)\n", lis.Addr(), len(stock))
	if err := s.Serve(lis); err != nil {
		log.Fatal(err)
	}
}
