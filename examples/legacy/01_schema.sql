-- Legacy order-management database of a small web shop (hand-written over the years).
-- Tables: customers and orders are the original 2009 design (serial keys, CHECK IN status
-- lists, a soft-delete column); products already follow the Trinity convention (pk_/id/
-- identifier) introduced in 2019; order_history is written by an audit trigger.

CREATE SCHEMA IF NOT EXISTS shop;
CREATE SCHEMA IF NOT EXISTS inventory;

SET search_path = shop, public;

CREATE TABLE customers (
    customer_id   serial PRIMARY KEY,
    email         varchar(255) NOT NULL UNIQUE,
    full_name     text NOT NULL,
    phone         varchar(30),
    status        varchar(20) NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'blocked', 'closed')),
    credit_limit  numeric(12,2) NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz,
    deleted_at    timestamptz
);

COMMENT ON TABLE customers IS 'People and companies that buy from the shop';

CREATE TABLE orders (
    order_id      serial PRIMARY KEY,
    customer_id   integer NOT NULL REFERENCES customers (customer_id),
    status        varchar(20) NOT NULL DEFAULT 'draft'
                  CHECK (status IN ('draft', 'placed', 'paid', 'shipped', 'cancelled')),
    total         numeric(12,2) NOT NULL DEFAULT 0,
    paid_amount   numeric(12,2),
    placed_at     timestamptz,
    shipped_at    timestamptz,
    cancel_reason text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz
);

CREATE TABLE order_lines (
    order_line_id serial PRIMARY KEY,
    order_id      integer NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    product_id    integer NOT NULL,
    quantity      integer NOT NULL CHECK (quantity > 0),
    unit_price    numeric(12,2) NOT NULL
);

-- Written only by shop.trg_orders_audit(): one row per change of an order.
CREATE TABLE order_history (
    history_id    bigserial PRIMARY KEY,
    order_id      integer NOT NULL,
    operation     char(1) NOT NULL CHECK (operation IN ('I', 'U', 'D')),
    old_status    varchar(20),
    new_status    varchar(20),
    changed_by    text NOT NULL DEFAULT current_user,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory.tb_product (
    pk_product    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    identifier    text NOT NULL UNIQUE,
    sku           text NOT NULL UNIQUE,
    name          text NOT NULL,
    price         numeric(12,2) NOT NULL CHECK (price >= 0),
    stock         integer NOT NULL DEFAULT 0,
    reorder_level integer NOT NULL DEFAULT 5,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now(),
    deleted_at    timestamptz
);
