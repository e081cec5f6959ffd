-- What letters and late-payment law need to know about a customer: the postal address and
-- whether it is a private individual (b2c) or a business (b2b), as the provider says.
ALTER TABLE customers ADD COLUMN address TEXT;
ALTER TABLE customers ADD COLUMN kind TEXT;
